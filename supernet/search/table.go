package search

import "github.com/edgefit/edgefit/supernet"

// configTable maps subnets to ints. A Go map keyed by supernet.Config
// (368 bytes, over the runtime's 128-byte inline limit) allocates on every
// insert; the search inserts tens of thousands of configs, so this table
// keys a map by a 64-bit hash and chains the rare collisions through its
// own entries, comparing whole configs.
type configTable struct {
	head map[uint64]int32
	ents []tableEntry
}

type tableEntry struct {
	c    supernet.Config
	v    int
	next int32 // index of the next entry with the same hash, or -1
}

func newConfigTable(n int) *configTable {
	return &configTable{head: make(map[uint64]int32, n), ents: make([]tableEntry, 0, n)}
}

func hashConfig(c *supernet.Config) uint64 {
	h := uint64(0xcbf29ce484222325)
	mix := func(v int) {
		h ^= uint64(v)
		h *= 0x100000001b3
	}
	for _, v := range c.KS {
		mix(v)
	}
	for _, v := range c.E {
		mix(v)
	}
	for _, v := range c.D {
		mix(v)
	}
	mix(c.R)
	return splitmix(h)
}

func (t *configTable) find(c *supernet.Config, h uint64) int32 {
	i, ok := t.head[h]
	if !ok {
		return -1
	}
	for ; i >= 0; i = t.ents[i].next {
		if t.ents[i].c == *c {
			return i
		}
	}
	return -1
}

// get returns the value stored for c.
func (t *configTable) get(c *supernet.Config) (int, bool) {
	if i := t.find(c, hashConfig(c)); i >= 0 {
		return t.ents[i].v, true
	}
	return 0, false
}

// put stores v for c, replacing any value stored before.
func (t *configTable) put(c *supernet.Config, v int) {
	h := hashConfig(c)
	if i := t.find(c, h); i >= 0 {
		t.ents[i].v = v
		return
	}
	next := int32(-1)
	if i, ok := t.head[h]; ok {
		next = i
	}
	t.head[h] = int32(len(t.ents))
	t.ents = append(t.ents, tableEntry{c: *c, v: v, next: next})
}

func (t *configTable) len() int { return len(t.ents) }
