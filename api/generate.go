// Package api holds the protobuf definitions of the jiujin API (proto/) and
// the Go and connect-go code generated from them (gen/, committed).
//
// Regenerate after editing a .proto file:
//
//	go generate ./api
package api

//go:generate go run github.com/bufbuild/buf/cmd/buf@v1.75.0 lint
//go:generate go run github.com/bufbuild/buf/cmd/buf@v1.75.0 generate
