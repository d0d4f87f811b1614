package auth

import "testing"

// BenchmarkHashPassword is the argon2id work of one login (or one
// password set): docs/benchmarks.md "Logins".
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("Jiujin-bench-1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckPasswordParallel is logins arriving together at a box of
// GOMAXPROCS cores.
func BenchmarkCheckPasswordParallel(b *testing.B) {
	h, err := HashPassword("Jiujin-bench-1")
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !CheckPassword(h, "Jiujin-bench-1") {
				b.Fatal("no match")
			}
		}
	})
}

// BenchmarkAuthenticate is the session check every call of a logged-in
// operator pays.
func BenchmarkAuthenticate(b *testing.B) {
	f := newLoginFixture(b, false)
	f.worker(b)
	res, err := f.login("wang", pwWang, "", "")
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.acc.Authenticate(res.GetToken(), "127.0.0.1:1"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
