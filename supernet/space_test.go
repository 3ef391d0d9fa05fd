package supernet

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/internal/testfix"
)

func TestWidths(t *testing.T) {
	for _, tc := range []struct {
		w          float64
		first, fb  int
		stages     [NumStages]int
		final, mix int
		maxMid     [NumBlocks]int
	}{
		{1.0, 16, 16, [5]int{24, 40, 80, 112, 160}, 960, 1280,
			[20]int{96, 144, 144, 144, 144, 240, 240, 240, 240, 480, 480, 480, 480, 672, 672, 672, 672, 960, 960, 960}},
		{1.2, 24, 24, [5]int{32, 48, 96, 136, 192}, 1152, 1536,
			[20]int{144, 192, 192, 192, 192, 288, 288, 288, 288, 576, 576, 576, 576, 816, 816, 816, 816, 1152, 1152, 1152}},
	} {
		s, err := NewSpace(tc.w)
		if err != nil {
			t.Fatal(err)
		}
		if s.FirstConv != tc.first || s.FirstBlock != tc.fb || s.FinalExpand != tc.final || s.FeatureMix != tc.mix {
			t.Errorf("w%g: first %d block0 %d final %d mix %d", tc.w, s.FirstConv, s.FirstBlock, s.FinalExpand, s.FeatureMix)
		}
		for i := range NumStages {
			if s.Stages[i].Width != tc.stages[i] {
				t.Errorf("w%g stage %d width %d, want %d", tc.w, i, s.Stages[i].Width, tc.stages[i])
			}
		}
		for i := range NumBlocks {
			if got := s.MaxMid(i); got != tc.maxMid[i] {
				t.Errorf("w%g block %d max mid %d, want %d", tc.w, i, got, tc.maxMid[i])
			}
		}
	}
}

func TestSEChannels(t *testing.T) {
	// OFA's w1.0 mid -> SE widths (docs/ofa-mbv3.md section 1).
	for mid, want := range map[int]int{72: 24, 96: 24, 144: 40, 120: 32, 160: 40, 240: 64, 320: 80, 480: 120, 336: 88, 448: 112, 672: 168, 640: 160, 960: 240} {
		if got := SEChannels(mid); got != want {
			t.Errorf("SEChannels(%d) = %d, want %d", mid, got, want)
		}
	}
}

func TestSpatialSizes(t *testing.T) {
	s, _ := NewSpace(1.0)
	for r, want := range map[int][]int{224: {112, 56, 28, 14, 14, 7}, 132: {66, 33, 17, 9, 9, 5}, 208: {104, 52, 26, 13, 13, 7}} {
		var got []int
		ls := s.Layers(s.MaxConfig(r), nil)
		got = append(got, ls[0].OutSize)
		for _, l := range ls {
			if l.Kind == KindBlock && l.Block >= 0 && l.Block%MaxDepth == 0 {
				got = append(got, l.OutSize)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("r=%d sizes %v, want %v", r, got, want)
		}
	}
}

func TestSpaceSize(t *testing.T) {
	s, _ := NewSpace(1.0)
	if got := s.Size(); got < 2.17e19 || got > 2.19e19 {
		t.Errorf("Size() = %g, want about 2.18e19", got)
	}
}

func TestDistinctLayersMatchNote10Keys(t *testing.T) {
	s, _ := NewSpace(1.2)
	for _, r := range []int{160, 176, 192, 208, 224} {
		data, err := os.ReadFile(testfix.SharedFile(t, "ofa-upstream/note10/"+strconvI(r)+"_lookup_table.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, line := range strings.Split(string(data), "\n") {
			if line != "" && line[0] != ' ' {
				want[strings.TrimSuffix(line, ":")] = true
			}
		}
		got := map[string]bool{}
		for _, l := range s.DistinctLayers(r) {
			got[l.Key()] = true
		}
		if len(got) != 96 {
			t.Errorf("r=%d: %d distinct layers, want 96", r, len(got))
		}
		for k := range want {
			if !got[k] {
				t.Errorf("r=%d: Note10 key %s not produced", r, k)
			}
		}
		for k := range got {
			if !want[k] {
				t.Errorf("r=%d: key %s not in the Note10 table", r, k)
			}
		}
	}
}

func strconvI(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestConfigJSONAndValidate(t *testing.T) {
	s, _ := NewSpace(1.0)
	c := s.RandomConfig(rand.New(rand.NewPCG(1, 2)))
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfig(s, b)
	if err != nil || got != c {
		t.Fatalf("round trip: %v, %v != %v", err, got, c)
	}
	good := `{"ks":[3,5,7,3,5,7,3,5,7,3,5,7,3,5,7,3,5,7,3,5],"e":[3,4,6,3,4,6,3,4,6,3,4,6,3,4,6,3,4,6,3,4],"d":[2,3,4,2,3],"r":224}`
	if _, err := ParseConfig(s, []byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{strings.Replace(good, `"r":224`, `"r":225`, 1), "r = 225"},
		{strings.Replace(good, `"d":[2,3,4,2,3]`, `"d":[2,3,5,2,3]`, 1), "d[2] = 5"},
		{strings.Replace(good, `"ks":[3,5,7`, `"ks":[4,5,7`, 1), "ks[0] = 4"},
		{strings.Replace(good, `"e":[3,4,6`, `"e":[3,5,6`, 1), "e[1] = 5"},
		{strings.Replace(good, `"d":[2,3,4,2,3]`, `"d":[2,3,4,2]`, 1), `"d" has 4 entries`},
		{strings.Replace(good, `"r":224`, `"r":224,"w":1`, 1), `unknown field "w"`},
		{`{"ks":[3]`, "not valid JSON"},
		{`{"e":[],"d":[],"r":1}`, `"ks" is missing`},
	} {
		_, err := ParseConfig(s, []byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConfig(%.40s...) error %v, want it to mention %q", tc.in, err, tc.want)
		}
	}
	// Inactive entries are ignored, and may be 0.
	c = s.MinConfig(224)
	c.KS[3], c.E[3] = 0, 0
	if err := s.Validate(c); err != nil {
		t.Errorf("inactive zero entries refused: %v", err)
	}
	var ce *ConfigError
	c.KS[0] = 0
	if err := s.Validate(c); !errors.As(err, &ce) || ce.Field != "ks[0]" {
		t.Errorf("active zero kernel: %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	s, _ := NewSpace(1.0)
	f.Add([]byte(s.MaxConfig(224).String()))
	f.Add([]byte(s.MinConfig(128).String()))
	f.Add([]byte(`{"ks":[],"e":null,"d":[1],"r":-1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(s, data)
		if err != nil {
			return
		}
		// Whatever parses must be valid and survive a round trip.
		if err := s.Validate(c); err != nil {
			t.Fatalf("parsed config invalid: %v", err)
		}
		c2, err := ParseConfig(s, []byte(c.String()))
		if err != nil || c2 != c {
			t.Fatalf("round trip failed: %v", err)
		}
		_ = s.Layers(c, nil)
	})
}

// ValidateAnyResolution answers as WithResolutions([]int{c.R}) followed by
// Validate on the copy does, error for error.
func TestValidateAnyResolutionMatchesWithResolutions(t *testing.T) {
	s, err := NewSpace(1.2)
	if err != nil {
		t.Fatal(err)
	}
	want := func(c Config) error {
		sp, err := s.WithResolutions([]int{c.R})
		if err != nil {
			return err
		}
		return sp.Validate(c)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 2000 {
		c := s.RandomConfig(rng)
		c.R = []int{-1, 0, 31, 32, 100, 224, 236, 260, 1024, 1025, 5000}[i%11]
		switch i % 5 {
		case 1:
			c.KS[rng.IntN(NumBlocks)] = rng.IntN(9) - 1
		case 2:
			c.E[rng.IntN(NumBlocks)] = rng.IntN(9) - 1
		case 3:
			c.D[rng.IntN(NumStages)] = rng.IntN(6) - 1
		}
		got, exp := s.ValidateAnyResolution(c), want(c)
		if (got == nil) != (exp == nil) || got != nil && got.Error() != exp.Error() {
			t.Fatalf("config %d (%v): ValidateAnyResolution = %v, WithResolutions+Validate = %v", i, c, got, exp)
		}
		var gce, ece *ConfigError
		if errors.As(got, &gce) != errors.As(exp, &ece) {
			t.Fatalf("config %d: error types differ: %T vs %T", i, got, exp)
		}
	}
}
