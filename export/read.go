package export

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/edgefit/edgefit/export/onnxpb"
)

// ReadMetadata returns the metadata_props of an ONNX model, such as the
// Key* entries [Write] records. It fails on bytes that are not an ONNX
// model and on a key that appears twice.
func ReadMetadata(model []byte) (map[string]string, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return nil, fmt.Errorf("read ONNX model: %w", err)
	}
	if m.IrVersion == 0 && m.Graph == nil {
		return nil, fmt.Errorf("read ONNX model: no IR version and no graph: not an ONNX model")
	}
	props := make(map[string]string, len(m.MetadataProps))
	for _, p := range m.MetadataProps {
		if _, dup := props[p.Key]; dup {
			return nil, fmt.Errorf("read ONNX model: metadata key %q appears twice", p.Key)
		}
		props[p.Key] = p.Value
	}
	return props, nil
}
