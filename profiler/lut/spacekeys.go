package lut

import (
	"fmt"
	"strings"
	"sync"

	"github.com/edgefit/edgefit/supernet"
)

// A SpaceMismatchError reports a table (or a predictor fitted on one)
// whose keys are not layers of the space it names. The keys' channel
// widths tell the spaces apart: ofa-mbv3-w1.2 scales every width of
// ofa-mbv3-w1.0 by 1.2, so its first conv has 24 channels, not 16.
type SpaceMismatchError struct {
	Declared string   // the space the table names
	Fits     []string // the spaces every key is a layer of; empty when none
	Foreign  int      // entries whose key is not a layer of Declared at their resolution
	Total    int      // entries checked
	Key      string   // the first foreign key
	R        int      // and its resolution
}

func (e *SpaceMismatchError) Error() string {
	what := fmt.Sprintf("%d of %d entries (e.g. %s at r=%d) are not layers of %s", e.Foreign, e.Total, e.Key, e.R, e.Declared)
	if len(e.Fits) == 0 {
		return fmt.Sprintf("the table names space %s, but %s, nor of any one known space (%s): it mixes spaces or was not made for them",
			e.Declared, what, strings.Join(supernet.SpaceNames(), ", "))
	}
	return fmt.Sprintf("the table names space %s, but its keys are layers of %s: %s (their channel widths are %s's)",
		e.Declared, strings.Join(e.Fits, " and "), what, e.Fits[0])
}

// Hint says what to do about it.
func (e *SpaceMismatchError) Hint() string {
	if len(e.Fits) == 0 {
		return "profile the device again for one space, or import OFA's tables with the --space they were measured for"
	}
	return fmt.Sprintf("the keys fit %s: import or profile the table with --space %s", e.Fits[0], e.Fits[0])
}

// CheckKeySpace checks that each of n keys (key(i) returns the i-th with
// its resolution) is a layer of the space named space at its resolution,
// as every table measured or imported for that space holds. Otherwise it
// returns a [*SpaceMismatchError] that names the spaces the keys do fit.
func CheckKeySpace(space string, n int, key func(i int) (r int, k string)) error {
	if _, err := supernet.SpaceByName(space); err != nil {
		return err
	}
	e := &SpaceMismatchError{Declared: space, Total: n}
	for i := range n {
		if r, k := key(i); !spaceHasKey(space, r, k) {
			if e.Foreign == 0 {
				e.Key, e.R = k, r
			}
			e.Foreign++
		}
	}
	if e.Foreign == 0 {
		return nil
	}
	// Only a table that fails is checked against the other spaces, for
	// the error to name the ones it fits.
	for _, name := range supernet.SpaceNames() {
		if fitsAll(name, n, key) {
			e.Fits = append(e.Fits, name)
		}
	}
	return e
}

// fitsAll reports whether each of the n keys is a layer of space.
func fitsAll(space string, n int, key func(i int) (r int, k string)) bool {
	for i := range n {
		if r, k := key(i); !spaceHasKey(space, r, k) {
			return false
		}
	}
	return true
}

// spaceKeys caches the distinct layer keys of each space by resolution.
var spaceKeys struct {
	sync.Mutex
	m map[string]map[int]map[string]bool
}

// spaceHasKey reports whether key is one of the distinct layers of the
// named space at resolution r.
func spaceHasKey(space string, r int, key string) bool {
	spaceKeys.Lock()
	defer spaceKeys.Unlock()
	if spaceKeys.m == nil {
		spaceKeys.m = map[string]map[int]map[string]bool{}
	}
	byR := spaceKeys.m[space]
	if byR == nil {
		byR = map[int]map[string]bool{}
		spaceKeys.m[space] = byR
	}
	keys := byR[r]
	if keys == nil {
		s, err := supernet.SpaceByName(space)
		if err != nil {
			return false
		}
		keys = map[string]bool{}
		for _, l := range s.DistinctLayers(r) {
			keys[l.Key()] = true
		}
		byR[r] = keys
	}
	return keys[key]
}
