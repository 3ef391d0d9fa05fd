package supernet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Config selects one subnet of a [Space] at one input resolution. Its JSON
// form, used by every edgefit file and command, is
//
//	{"ks":[20 ints],"e":[20 ints],"d":[5 ints],"r":224}
//
// Entry i of KS and E belongs to elastic block i (stage i/4, position i%4).
// Entries of inactive blocks (i%4 >= D[i/4]) are ignored by every cost,
// prediction and extraction; [Config.Canonical] sets them to the smallest
// choice so that equal subnets compare equal.
//
// Config is a comparable value: it can key a map.
type Config struct {
	KS [NumBlocks]int
	E  [NumBlocks]int
	D  [NumStages]int
	R  int
}

type configJSON struct {
	KS []int `json:"ks"`
	E  []int `json:"e"`
	D  []int `json:"d"`
	R  int   `json:"r"`
}

// MarshalJSON writes the config in edgefit's JSON form.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(configJSON{KS: c.KS[:], E: c.E[:], D: c.D[:], R: c.R})
}

// UnmarshalJSON reads edgefit's JSON form. It checks the list lengths and
// refuses unknown fields; use [Space.Validate] for the values.
func (c *Config) UnmarshalJSON(b []byte) error {
	var j configJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf(`subnet config: %w (want {"ks":[20 ints],"e":[20 ints],"d":[5 ints],"r":224})`, err)
	}
	for _, f := range []struct {
		name string
		got  []int
		want int
	}{{"ks", j.KS, NumBlocks}, {"e", j.E, NumBlocks}, {"d", j.D, NumStages}} {
		if f.got == nil {
			return fmt.Errorf("subnet config: field %q is missing: it needs %d ints", f.name, f.want)
		}
		if len(f.got) != f.want {
			return fmt.Errorf("subnet config: field %q has %d entries, want %d", f.name, len(f.got), f.want)
		}
	}
	var out Config
	copy(out.KS[:], j.KS)
	copy(out.E[:], j.E)
	copy(out.D[:], j.D)
	out.R = j.R
	*c = out
	return nil
}

// ParseConfig reads a config in edgefit's JSON form and validates it
// against s. The form of a config file, with a "space" key (see
// [MarshalConfigFile]), is accepted when that space is s's.
func ParseConfig(s *Space, data []byte) (Config, error) {
	var c Config
	var named struct {
		Space *string `json:"space"`
	}
	if json.Unmarshal(data, &named) == nil && named.Space != nil {
		f, err := ReadConfigFile("config", data)
		if err != nil {
			return Config{}, err
		}
		if f.NetConfig || f.Space.Name != s.Name {
			return Config{}, fmt.Errorf("subnet config is for %s, not %s", *named.Space, s.Name)
		}
		c = f.Config
	} else if err := json.Unmarshal(data, &c); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Config{}, fmt.Errorf("subnet config is not valid JSON at byte %d: %w", se.Offset, err)
		}
		return Config{}, err
	}
	if err := s.Validate(c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// String returns the config's JSON form.
func (c Config) String() string {
	b, _ := c.MarshalJSON()
	return string(b)
}

// Active reports whether elastic block i is part of the subnet.
func (c *Config) Active(i int) bool { return i%MaxDepth < c.D[i/MaxDepth] }

// Canonical returns c with the ks and e entries of inactive blocks set to
// the space's smallest choices, so that two configs of the same subnet are
// equal.
func (c Config) Canonical(s *Space) Config {
	for i := range NumBlocks {
		if !c.Active(i) {
			c.KS[i] = s.KernelSizes[0]
			c.E[i] = s.Expands[0]
		}
	}
	return c
}

// ConfigError names the field of a config that is not in the space.
type ConfigError struct {
	Field string // such as "ks[3]", "d[1]" or "r"
	Value int
	Valid []int // the values that field accepts
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("subnet config: %s = %d is not in the space: use one of %s", e.Field, e.Value, joinInts(e.Valid))
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

// Validate checks every field of c against the space: active ks and e
// entries, depths and the resolution. Inactive ks and e entries must be a
// valid choice or 0. The error is a [*ConfigError] naming the first bad
// field.
func (s *Space) Validate(c Config) error {
	if err := s.validateChoices(c); err != nil {
		return err
	}
	if !slices.Contains(s.Resolutions, c.R) {
		return &ConfigError{Field: "r", Value: c.R, Valid: s.Resolutions}
	}
	return nil
}

// ValidateAnyResolution checks c as [Space.Validate] does, but accepts any
// resolution the space can run at (32..1024), not only those of
// s.Resolutions: it answers as s.WithResolutions([]int{c.R}) and then
// Validate on the copy would, without copying the space. A resolution
// outside 32..1024 is reported before any other field.
func (s *Space) ValidateAnyResolution(c Config) error {
	if err := checkResolution(c.R); err != nil {
		return err
	}
	return s.validateChoices(c)
}

// validateChoices checks every field of c but the resolution.
func (s *Space) validateChoices(c Config) error {
	for i := range NumStages {
		if !slices.Contains(s.Depths, c.D[i]) {
			return &ConfigError{Field: fmt.Sprintf("d[%d]", i), Value: c.D[i], Valid: s.Depths}
		}
	}
	for i := range NumBlocks {
		ok := c.Active(i)
		if k := c.KS[i]; !slices.Contains(s.KernelSizes, k) && (ok || k != 0) {
			return &ConfigError{Field: fmt.Sprintf("ks[%d]", i), Value: k, Valid: s.KernelSizes}
		}
		if e := c.E[i]; !slices.Contains(s.Expands, e) && (ok || e != 0) {
			return &ConfigError{Field: fmt.Sprintf("e[%d]", i), Value: e, Valid: s.Expands}
		}
	}
	return nil
}

// MaxConfig returns the largest subnet (largest kernel, expand ratio and
// depth everywhere) at resolution r.
func (s *Space) MaxConfig(r int) Config {
	return s.uniform(s.KernelSizes[len(s.KernelSizes)-1], s.Expands[len(s.Expands)-1], s.Depths[len(s.Depths)-1], r)
}

// MinConfig returns the smallest subnet at resolution r.
func (s *Space) MinConfig(r int) Config {
	return s.uniform(s.KernelSizes[0], s.Expands[0], s.Depths[0], r)
}

func (s *Space) uniform(k, e, d, r int) Config {
	var c Config
	for i := range NumBlocks {
		c.KS[i], c.E[i] = k, e
	}
	for i := range NumStages {
		c.D[i] = d
	}
	c.R = r
	return c
}

// RandomConfig draws a subnet uniformly the way OFA's sample_active_subnet
// does (20 kernels, 20 expand ratios, 5 depths), with a resolution drawn
// uniformly from the space's list. The result is canonical.
func (s *Space) RandomConfig(rng *rand.Rand) Config {
	var c Config
	for i := range NumBlocks {
		c.KS[i] = s.KernelSizes[rng.IntN(len(s.KernelSizes))]
	}
	for i := range NumBlocks {
		c.E[i] = s.Expands[rng.IntN(len(s.Expands))]
	}
	for i := range NumStages {
		c.D[i] = s.Depths[rng.IntN(len(s.Depths))]
	}
	c.R = s.Resolutions[rng.IntN(len(s.Resolutions))]
	return c.Canonical(s)
}
