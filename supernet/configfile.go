package supernet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// ConfigFile is a subnet config as a file gives it: in edgefit's JSON form
// ({"space","ks","e","d","r"}, see [Config] and [MarshalConfigFile]) or as
// OFA's net.config (see [ConfigFromNetConfig]).
type ConfigFile struct {
	Config Config
	// Space is the space the file names: a net.config's, with its width
	// and class count, or the one edgefit's form names in its optional
	// "space" key. It is nil for edgefit's form without one, which fits
	// either width.
	Space *Space
	// NetConfig reports an OFA net.config. Its Config.R is 0: the document
	// carries no resolution (OFA keeps it in run.config).
	NetConfig bool
}

// ErrConfigSyntax marks a config file that is not JSON at all; test for it
// with errors.Is.
var ErrConfigSyntax = errors.New("not JSON")

// LoadConfigFile reads the subnet config file at path; see
// [ReadConfigFile].
func LoadConfigFile(path string) (ConfigFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ConfigFile{}, fmt.Errorf("read subnet config: %w", err)
	}
	return ReadConfigFile(path, data)
}

// ReadConfigFile reads a subnet config in either form, telling them apart
// by net.config's "blocks"; name is used in errors. The values are not
// checked against a space: [Space.Validate] does that (and [ParseConfig]
// does both, for edgefit's form, where the space and its resolutions are
// known beforehand).
func ReadConfigFile(name string, data []byte) (ConfigFile, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return ConfigFile{}, fmt.Errorf("subnet config %s is %w: %w", name, ErrConfigSyntax, err)
	}
	if _, ok := probe["blocks"]; ok {
		s, c, err := ConfigFromNetConfig(data)
		if err != nil {
			return ConfigFile{}, fmt.Errorf("read OFA net.config %s: %w", name, err)
		}
		return ConfigFile{Config: c, Space: s, NetConfig: true}, nil
	}
	var f ConfigFile
	if raw, ok := probe["space"]; ok {
		var sn string
		if err := json.Unmarshal(raw, &sn); err != nil {
			return ConfigFile{}, fmt.Errorf(`read subnet config %s: "space" must be a space name such as "ofa-mbv3-w1.0"`, name)
		}
		s, err := SpaceByName(sn)
		if err != nil {
			return ConfigFile{}, fmt.Errorf("read subnet config %s: %w", name, err)
		}
		f.Space = s
		delete(probe, "space")
		data, _ = json.Marshal(probe)
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&f.Config); err != nil {
		return ConfigFile{}, fmt.Errorf("read subnet config %s: %w", name, err)
	}
	return f, nil
}

// MarshalConfigFile writes subnet c of the space named space as a config
// file in edgefit's form, {"space":...,"ks":[...],"e":[...],"d":[...],"r":...}
// followed by a newline: what every config file edgefit writes holds, so
// that a later command cannot take the subnet for one of the other width.
func MarshalConfigFile(space string, c Config) []byte {
	b, _ := json.Marshal(struct {
		Space string `json:"space"`
		configJSON
	}{space, configJSON{KS: c.KS[:], E: c.E[:], D: c.D[:], R: c.R}})
	return append(b, '\n')
}

// ReadConfigFiles reads any number of subnet configs from r, each in
// either form [ReadConfigFile] reads: one JSON object, several one after
// another (such as JSON lines, one config a line), or a JSON array of
// them. name is used in errors, with the config's position ("name#2").
// It refuses input that holds no config.
func ReadConfigFiles(name string, r io.Reader) ([]ConfigFile, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read subnet configs %s: %w", name, err)
	}
	var docs []json.RawMessage
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &docs); err != nil {
			return nil, fmt.Errorf("subnet configs %s are %w: %w", name, ErrConfigSyntax, err)
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			var d json.RawMessage
			err := dec.Decode(&d)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("subnet configs %s: config %d is %w: %w", name, len(docs)+1, ErrConfigSyntax, err)
			}
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("subnet configs %s: no config found: give one JSON object per config (JSON lines), or a JSON array of them", name)
	}
	out := make([]ConfigFile, len(docs))
	for i, d := range docs {
		where := name
		if len(docs) > 1 {
			where = fmt.Sprintf("%s#%d", name, i+1)
		}
		if out[i], err = ReadConfigFile(where, d); err != nil {
			return nil, err
		}
	}
	return out, nil
}
