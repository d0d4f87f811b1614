// Command jiujin runs and drives the nodes of a county-township-village
// government service network. See README.md.
package main

import (
	"os"

	"github.com/jiujin/jiujin/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
