// config.go — the server configuration the run sends (sim/srv/srv_main.h), and each Go design's params with the seed's constants as defaults.
package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// param is one tunable of a design: the same names, defaults and ranges as its C port
// (linkbench list --params), so one scenario's variant_config drives both; the test
// test_go_reference compares the two tables.
type param struct {
	name          string
	def, min, max int64
}

func ms(d time.Duration) int64 { return int64(d / time.Millisecond) }

const maxQueue = 1 << 20

// The tables: each default is the constant of that design's own code block in the
// seed (see the link_*.go files, which name them).
var designParams = map[string][]param{
	"dual": {
		{"read_timeout_ms", ms(linkDefaultReadTimeout), 1, 86400000},
		{"write_timeout_ms", ms(linkDefaultWriteTimeout), 1, 86400000},
		{"send_queue_len", linkDefaultWriteBufferSize, 1, maxQueue},
		{"recv_queue_len", linkDefaultReadBufferSize, 1, maxQueue},
		{"retry_init_ms", ms(linkDefaultInitRetryInterval), 1, 3600000},
		{"retry_max_ms", ms(linkDefaultMaxRetryInterval), 1, 3600000},
		{"retry_max", linkDefaultMaxRetries, 0, 1000000},
		{"close_timeout_ms", ms(linkDefaultCloseTimeout), 1, 86400000},
	},
	"batch": {
		{"read_timeout_ms", ms(v2DefaultReadTimeout), 1, 86400000},
		{"write_timeout_ms", ms(v2DefaultWriteTimeout), 1, 86400000},
		{"send_queue_len", v2DefaultWriteBufferSize, 1, maxQueue},
		{"recv_queue_len", v2DefaultReadBufferSize, 1, maxQueue},
		{"retry_init_ms", ms(v2DefaultInitRetryInterval), 1, 3600000},
		{"retry_max_ms", ms(v2DefaultMaxRetryInterval), 1, 3600000},
		{"retry_max", int64(v2DefaultMaxRetries), 0, 1000000},
		{"send_batch", v2SendBatch, 1, maxQueue},
		{"close_timeout_ms", ms(v2DefaultCloseTimeout), 1, 86400000},
		{"nonblocking_delivery", 0, 0, 1}, // the seed's proposal, not LinkV2's code (link_v2.go)
	},
	"poll": {
		{"read_timeout_ms", ms(linkDefaultReadTimeout), 1, 86400000},
		{"write_timeout_ms", ms(linkDefaultWriteTimeout), 1, 86400000},
		{"send_queue_len", linkDefaultWriteBufferSize, 1, maxQueue},
		{"recv_queue_len", linkDefaultReadBufferSize, 1, maxQueue},
		{"retry_init_ms", ms(linkDefaultInitRetryInterval), 1, 3600000},
		{"retry_max_ms", ms(linkDefaultMaxRetryInterval), 1, 3600000},
		{"retry_max", linkDefaultMaxRetries, 0, 1000000},
		{"poll_read_ms", ms(veryShortReadTimeout), 1, 60000},
		{"close_timeout_ms", ms(linkDefaultCloseTimeout), 1, 86400000},
	},
	"hybrid": {
		{"read_timeout_ms", ms(v4DefaultReadTimeout), 1, 86400000},
		{"write_timeout_ms", ms(v4DefaultWriteTimeout), 1, 86400000},
		{"send_queue_len", v4DefaultWriteBufferSize, 1, maxQueue},
		{"recv_queue_len", v4DefaultReadBufferSize, 1, maxQueue},
		{"retry_init_ms", ms(v4DefaultInitRetryInterval), 1, 3600000},
		{"retry_max_ms", ms(v4DefaultMaxRetryInterval), 1, 3600000},
		{"retry_max", int64(v4DefaultMaxRetries), 0, 1000000},
		{"send_batch", v4SendBatch, 1, maxQueue},
		{"close_timeout_ms", ms(v4DefaultCloseTimeout), 1, 86400000},
	},
	"pair": {
		{"write_timeout_ms", ms(linkDefaultWriteTimeout), 1, 86400000},
		{"send_queue_len", linkDefaultWriteBufferSize, 1, maxQueue},
		{"read_poll_ms", ms(v5ReadPoll), 1, 60000},
		{"idle_tick_ms", ms(v5IdleTick), 1, 60000},
		{"unified_queue_len", v5UnifiedQueueLen, 1, maxQueue},
		{"close_timeout_ms", ms(linkDefaultCloseTimeout), 1, 86400000},
	},
}

// The C ports' seed-fidelity switches (variants/lib/seed_link.h, docs/seed-fidelity.md),
// in the same order after each design's own params. The Go originals are the seed: they
// take each switch at the seed's value only (a repair is refused by parseConfig), except
// log, whose 0 skips the elog lines' formatting as the C ports skip theirs.
var seedFidelity = []param{
	{"close_waits_reply", 0, 0, 1},
	{"read_keeps_partial", 0, 0, 1},
	{"write_resumes_partial", 0, 0, 1},
	{"log", 1, 0, 1},
}

func init() {
	designParams["pair"] = append(designParams["pair"], param{"pair_adjacent", 0, 0, 1},
		param{"group_size", 2, 1, 256})
	// WithCompression, in the three designs the seed gives it (the C ports' compression
	// param): declared so one scenario drives both, refused when set (parseConfig)
	for _, d := range []string{"batch", "poll", "hybrid"} {
		designParams[d] = append(designParams[d], param{"compression", 0, 0, 2})
	}
	for d := range designParams {
		designParams[d] = append(designParams[d], seedFidelity...)
	}
}

// declared goroutines per link, as the seed's table says.
var designGoroutines = map[string]float64{"dual": 2, "batch": 1, "poll": 1, "hybrid": 1, "pair": 0.5}

// serverConfig is the first line from the parent (sim/srv/srv_main.h).
type serverConfig struct {
	Variant string           `json:"variant"`
	Params  map[string]int64 `json:"params"`
	Common  struct {
		RateLimitPerS int64 `json:"rate_limit_per_s"`
		AutoClose     bool  `json:"auto_close"`
		MaxMsgBytes   int64 `json:"max_msg_bytes"`
	} `json:"common"`
	App struct {
		Workers       int     `json:"workers"`
		Mode          string  `json:"mode"`
		RecvBatch     int     `json:"recv_batch"`
		ServiceNs     int64   `json:"service_ns"`
		PushPerS      float64 `json:"push_per_s"`
		PushPattern   string  `json:"push_pattern"`
		PushSeed      uint64  `json:"push_seed"`
		PushBytes     int64   `json:"push_bytes"`
		IdleTimeoutNs int64   `json:"idle_timeout_ns"`
		ReapPeriodNs  int64   `json:"reap_period_ns"`
		MaxLinks      int64   `json:"max_links"`
	} `json:"app"`
	Pin       []int  `json:"pin"`
	Addr      string `json:"addr"`
	Port      int    `json:"port"`
	Reuseport bool   `json:"reuseport"`
	ParentPid int    `json:"parent_pid"`

	design string           // "hybrid" for "go:hybrid"
	p      map[string]int64 // every param of the design, defaults filled in
}

// parseConfig reads and checks the configuration line; errors name the key, the rule
// and the value, as the C server's do.
func parseConfig(line []byte) (*serverConfig, error) {
	c := &serverConfig{}
	c.Common.MaxMsgBytes = 4 << 20
	c.App.Workers = 2
	c.App.Mode = "echo"
	c.App.RecvBatch = 64
	c.App.PushBytes = 64
	c.App.PushPattern = "constant"
	c.App.PushSeed = 1
	c.App.ReapPeriodNs = int64(time.Second)
	c.App.MaxLinks = 65536
	c.Addr = "127.0.0.1"
	if err := json.Unmarshal(line, c); err != nil {
		return nil, fmt.Errorf("server config: %v", err)
	}
	c.design = strings.TrimPrefix(c.Variant, "go:")
	table, ok := designParams[c.design]
	if !ok {
		return nil, fmt.Errorf("server config: variant: unknown Go design %q (known: %s)", c.Variant, strings.Join(designNames(), ", "))
	}
	c.p = map[string]int64{}
	for _, p := range table {
		c.p[p.name] = p.def
	}
	for k, v := range c.Params {
		var pp *param
		for i := range table {
			if table[i].name == k {
				pp = &table[i]
			}
		}
		if pp == nil {
			return nil, fmt.Errorf("%s: no param %q", c.Variant, k)
		}
		if v < pp.min || v > pp.max {
			return nil, fmt.Errorf("variant_config.%s.%s: must be in [%d, %d] (got %d)", c.Variant, k, pp.min, pp.max, v)
		}
		c.p[k] = v
	}
	for _, k := range []string{"close_waits_reply", "read_keeps_partial", "write_resumes_partial", "pair_adjacent"} {
		if v, ok := c.p[k]; ok && v != 0 {
			return nil, fmt.Errorf("variant_config.%s.%s: the Go original runs the seed's code, which this switch of the C port repairs or changes: only 0 (got %d)", c.Variant, k, v)
		}
	}
	// group_size: the C port's answer to the seed's 扩展性限制 (one loop over N links);
	// the Go original is LinkV5 as written, two links a loop.
	if v, ok := c.p["group_size"]; ok && v != 2 {
		return nil, fmt.Errorf("variant_config.%s.group_size: the Go original runs LinkV5 as written (two links a loop): only 2 (got %d)", c.Variant, v)
	}
	if v := c.p["compression"]; v != 0 {
		return nil, fmt.Errorf("variant_config.%s.compression: the Go reference negotiates no permessage-deflate (its writer ignores WithCompression's flag, wsframe.go): only 0 (got %d)", c.Variant, v)
	}
	elogOff.Store(c.p["log"] == 0)
	a := &c.App
	switch {
	case a.Workers < 1 || a.Workers > 256:
		return nil, fmt.Errorf("app: workers: must be in [1, 256] (got %d)", a.Workers)
	case a.Mode != "echo" && a.Mode != "sink":
		return nil, fmt.Errorf("app: mode: must be echo or sink (got %q)", a.Mode)
	case a.RecvBatch < 1:
		return nil, fmt.Errorf("app: recv_batch: must be >= 1 (got %d)", a.RecvBatch)
	case a.PushPerS < 0 || a.PushPerS > 1000000:
		return nil, fmt.Errorf("app: push_per_s: must be in [0, 1000000] (got %g)", a.PushPerS)
	case a.PushPattern != "constant" && a.PushPattern != "poisson":
		return nil, fmt.Errorf("app: push_pattern: must be constant or poisson (got %q)", a.PushPattern)
	case a.PushPerS > 0 && a.PushBytes < wireHdrBytes:
		return nil, fmt.Errorf("app: push_bytes: must be >= 48 (the wire header) (got %d)", a.PushBytes)
	case a.IdleTimeoutNs < 0 || (a.IdleTimeoutNs > 0 && a.ReapPeriodNs <= 0):
		return nil, fmt.Errorf("app: idle_timeout_ns/reap_period_ns: must be >= 0 / > 0 (got %d/%d)", a.IdleTimeoutNs, a.ReapPeriodNs)
	case a.MaxLinks < 1 || a.MaxLinks > 1<<24:
		return nil, fmt.Errorf("app: max_links: must be in [1, 16777216] (got %d)", a.MaxLinks)
	case c.Common.MaxMsgBytes < wireHdrBytes:
		return nil, fmt.Errorf("common: max_msg_bytes: must be >= 48 (got %d)", c.Common.MaxMsgBytes)
	}
	return c, nil
}

func (c *serverConfig) ms(name string) time.Duration {
	return time.Duration(c.p[name]) * time.Millisecond
}

func designNames() []string {
	var n []string
	for k := range designParams {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// printParams writes the tables as `linkbench list --params` prints a variant's
// params (name, default, range), for the test that compares them with the C ports.
func printParams() {
	for _, d := range designNames() {
		fmt.Printf("go:%s %g\n", d, designGoroutines[d])
		for _, p := range designParams[d] {
			fmt.Printf("    %-28s %10d   [%d, %d]\n", p.name, p.def, p.min, p.max)
		}
	}
}
