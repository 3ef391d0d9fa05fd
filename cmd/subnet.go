package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/edgefit/edgefit/supernet"
)

// readSubnetConfig reads a subnet config file: edgefit's config JSON
// ({"ks","e","d","r"}) or OFA's static net.config (then res gives the
// resolution, which net.config does not carry). It returns the space the
// config names (nil for edgefit's JSON, which fits either width).
func readSubnetConfig(path string, res int) (*supernet.Space, supernet.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, supernet.Config{}, fmt.Errorf("read subnet config: %w", err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, supernet.Config{}, withHint(fmt.Errorf("subnet config %s is not JSON: %w", path, err),
			`write it as {"ks":[20 ints],"e":[20 ints],"d":[5 ints],"r":224}, as 'edgefit select' does`)
	}
	if _, ok := probe["blocks"]; ok {
		s, c, err := supernet.ConfigFromNetConfig(data)
		if err != nil {
			return nil, supernet.Config{}, fmt.Errorf("read OFA net.config %s: %w", path, err)
		}
		if res == 0 {
			return nil, supernet.Config{}, usageErrorf("%s is an OFA net.config, which has no resolution: pass --res", path)
		}
		c.R = res
		return s, c, nil
	}
	var c supernet.Config
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		return nil, supernet.Config{}, fmt.Errorf("read subnet config %s: %w", path, err)
	}
	if res != 0 {
		c.R = res
	}
	return nil, c, nil
}

// validateAnyResolution checks c against s, accepting any resolution from
// 32 to 1024 rather than only the ones the space searches: a user may deploy
// a subnet at a size it was not trained at, as OFA's zoo does.
func validateAnyResolution(s *supernet.Space, c supernet.Config) (*supernet.Space, error) {
	rs := append(append([]int(nil), s.Resolutions...), c.R)
	wide, err := s.WithResolutions(rs)
	if err != nil {
		return nil, fmt.Errorf("subnet config: r = %d: %w", c.R, err)
	}
	if err := wide.Validate(c); err != nil {
		return nil, err
	}
	return wide, nil
}
