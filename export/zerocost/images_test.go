package zerocost

import (
	"context"
	"slices"
	"testing"
)

// TestFolderDecodedOnce: a folder's images are decoded once and kept, and
// the batches made from them at later resolutions are those the loader
// makes from the files (a batch over the decoded budget, and a fresh
// batch per resolution); over the budget nothing is kept.
func TestFolderDecodedOnce(t *testing.T) {
	ctx := context.Background()
	dir := pictureFolder(t, 7)
	open := func(budget int64) *Images {
		im, err := OpenImages(ctx, dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		im.budget = budget
		return im
	}
	kept, reread := open(decodedBytes), open(0)
	for _, r := range []int{160, 96, 224, 161} {
		fresh, err := open(decodedBytes).Batch(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		a, err := kept.Batch(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		b, err := reread.Batch(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a, fresh) || !slices.Equal(b, fresh) {
			t.Errorf("r=%d: the batch from the kept images (same %v) or re-read (same %v) differs from the loader's", r, slices.Equal(a, fresh), slices.Equal(b, fresh))
		}
	}
	if len(kept.rgb) != kept.N() || kept.tooBig {
		t.Errorf("%d of %d images kept (too big %v)", len(kept.rgb), kept.N(), kept.tooBig)
	}
	if reread.rgb != nil || !reread.tooBig {
		t.Errorf("over the budget: %d images kept (too big %v)", len(reread.rgb), reread.tooBig)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := kept.Batch(cancelled, 128); err == nil {
		t.Error("a cancelled context made a batch from the kept images")
	}
}
