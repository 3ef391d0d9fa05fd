// Package onnxpb holds Go types for the part of the ONNX model format that
// edgefit writes and reads: models, graphs, nodes, attributes, tensors and
// their types. onnx.proto is edgefit's own minimal schema with the field
// numbers of the ONNX IR specification; onnx.pb.go is generated from it.
//
// Regenerate after editing onnx.proto (needs protoc, e.g. Debian's
// protobuf-compiler, and `go install
// google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12`):
//
//	make proto   # or: go generate ./export/onnxpb
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative onnx.proto
