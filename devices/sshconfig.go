package devices

import (
	"bytes"
	"log/slog"
	"os"

	"github.com/kevinburke/ssh_config"
)

// sshConfig answers ~/.ssh/config questions for host aliases. A missing or
// unreadable file just answers nothing: the target string alone still works.
type sshConfig struct {
	files []*ssh_config.Config
}

// loadSSHConfig reads path ("" = the user's ~/.ssh/config then the system
// /etc/ssh/ssh_config, "none" = no file).
func loadSSHConfig(path string, log *slog.Logger) sshConfig {
	var paths []string
	switch path {
	case "none":
	case "":
		paths = []string{expandHome("~/.ssh/config"), "/etc/ssh/ssh_config"}
	default:
		paths = []string{expandHome(path)}
	}
	var c sshConfig
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			if !os.IsNotExist(err) {
				log.Warn("ssh: cannot read ssh config, ignoring it", "file", p, "err", err)
			}
			continue
		}
		cfg, err := ssh_config.Decode(bytes.NewReader(b))
		if err != nil {
			log.Warn("ssh: cannot parse ssh config, ignoring it", "file", p, "err", err)
			continue
		}
		c.files = append(c.files, cfg)
	}
	return c
}

// get returns the first value of key for alias, as ssh does.
func (c sshConfig) get(alias, key string) string {
	for _, f := range c.files {
		if v, err := f.Get(alias, key); err == nil && v != "" {
			return v
		}
	}
	return ""
}

// getAll returns every value of key for alias (IdentityFile may repeat).
func (c sshConfig) getAll(alias, key string) []string {
	var all []string
	for _, f := range c.files {
		if v, err := f.GetAll(alias, key); err == nil {
			all = append(all, v...)
		}
	}
	return all
}
