// hist.go — the C server's latency histogram (sim/met/internal/met_hist_layout.h: HdrHistogram geometry, 1 ns to 2^37-1 ns, 3 significant digits) and its JSON form, so the run merges Go and C histograms alike.
package main

import "math/bits"

const (
	histSubBucketMag = 11
	histHalfMag      = histSubBucketMag - 1
	histHalfCount    = 1 << histHalfMag
	histBucketCount  = 27
	histCountsLen    = (histBucketCount + 1) * histHalfCount
	histHighest      = int64(1)<<37 - 1
)

type hist struct {
	counts   [histCountsLen]int64
	total    int64
	overflow int64
	min, max int64
	minIndex int
	maxIndex int
}

func newHist() *hist { return &hist{min: -1, minIndex: histCountsLen, maxIndex: -1} }

// histIndexOf is met_hist_index_of.
func histIndexOf(v int64) int {
	u := uint64(v) | (1<<histSubBucketMag - 1)
	pow2ceil := 64 - bits.LeadingZeros64(u)
	bucket := pow2ceil - histSubBucketMag
	sub := int(v >> bucket)
	return (bucket+1)<<histHalfMag + (sub - histHalfCount)
}

// histLowestOf is met_hist_lowest_of_index.
func histLowestOf(i int) int64 {
	bucket := i>>histHalfMag - 1
	sub := int64(i&(histHalfCount-1)) + histHalfCount
	if bucket < 0 {
		sub -= histHalfCount
		bucket = 0
	}
	return sub << bucket
}

// record adds one value; false (counted as overflow) when out of range.
func (h *hist) record(v int64) bool { return h.recordN(v, 1) }

func (h *hist) recordN(v, n int64) bool {
	if v < 0 || v > histHighest {
		h.overflow += n
		return false
	}
	i := histIndexOf(v)
	h.counts[i] += n
	h.total += n
	if h.min < 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	if i < h.minIndex {
		h.minIndex = i
	}
	if i > h.maxIndex {
		h.maxIndex = i
	}
	return true
}

func (h *hist) merge(o *hist) {
	for i := o.minIndex; i <= o.maxIndex && i < histCountsLen; i++ {
		if o.counts[i] > 0 {
			h.counts[i] += o.counts[i]
		}
	}
	h.total += o.total
	h.overflow += o.overflow
	if o.total > 0 {
		if h.min < 0 || o.min < h.min {
			h.min = o.min
		}
		if o.max > h.max {
			h.max = o.max
		}
		if o.minIndex < h.minIndex {
			h.minIndex = o.minIndex
		}
		if o.maxIndex > h.maxIndex {
			h.maxIndex = o.maxIndex
		}
	}
}

// sub is srv_hist_sub: all - earlier, bucket by bucket; min and max become the lowest
// values of their buckets, as in the C server.
func histSub(all, earlier *hist) *hist {
	out := newHist()
	for i := 0; i < histCountsLen; i++ {
		n := all.counts[i]
		if earlier != nil {
			n -= earlier.counts[i]
		}
		if n > 0 {
			out.recordN(histLowestOf(i), n)
		}
	}
	out.overflow = all.overflow
	if earlier != nil {
		out.overflow -= earlier.overflow
	}
	return out
}

// toJSON is met_hist_to_json: {"counts": [[index, n], ...], "overflow", "min", "max"}.
func (h *hist) toJSON() map[string]interface{} {
	counts := [][2]int64{}
	for i := h.minIndex; i <= h.maxIndex && i < histCountsLen; i++ {
		if h.counts[i] > 0 {
			counts = append(counts, [2]int64{int64(i), h.counts[i]})
		}
	}
	mn := h.min
	if mn < 0 {
		mn = 0
	}
	return map[string]interface{}{"counts": counts, "overflow": h.overflow, "min": mn, "max": h.max}
}
