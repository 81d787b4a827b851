// Lists the containers of a podmon pod with the Go varlink client
// (github.com/varlink/go, Debian's golang-github-varlink-go-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run tests/clients/list_containers.go unix:/run/podmon/NAME.sock
//
// It calls io.podmon.Pod.ListContainers with the 'more' flag and prints one
// JSON object per reply, one a line, then "replies: N".
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/varlink/go/varlink"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: list_containers unix:SOCKET")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := varlink.NewConnection(ctx, os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
	defer conn.Close()
	recv, err := conn.Send(ctx, "io.podmon.Pod.ListContainers", nil, varlink.More)
	if err != nil {
		fmt.Fprintln(os.Stderr, "send:", err)
		os.Exit(1)
	}
	n := 0
	for {
		var out map[string]interface{}
		flags, err := recv(ctx, &out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "receive:", err)
			os.Exit(1)
		}
		b, err := json.Marshal(out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "marshal:", err)
			os.Exit(1)
		}
		fmt.Println(string(b))
		n++
		if flags&varlink.Continues == 0 {
			break
		}
	}
	fmt.Printf("replies: %d\n", n)
}
