// Command edgefit finds the best Once-for-All subnet for an edge device and
// exports it as ONNX. Run "edgefit --help" for the commands. It imports only
// package cmd, where the commands live.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgefit/edgefit/cmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cmd.Execute(ctx, os.Args[1:], cmd.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	if err != nil {
		cmd.PrintError(os.Stderr, err)
	}
	os.Exit(cmd.ExitCodeOf(err))
}
