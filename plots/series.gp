# series.gp — one run per variant (repetition 0) over time: delivered throughput, server threads, RSS and server CPU.
# usage: gnuplot -c series.gp <dir> "<variant> ..." "<title>"   (reads <dir>/series_<variant>_0.csv, writes <dir>/series.png and .svg)
dir = ARG1; variants = ARG2; title0 = ARG3
sd = "."
do for [i = strlen(ARG0):1:-1] { if (sd eq "." && ARG0[i:i] eq "/") { sd = ARG0[1:i-1] } }
load sd."/common.gp"
W = 1000; H = 1100
file(v) = sprintf("%s/series_%s_0.csv", dir, v)
set key outside right top
set xlabel "time since the run started (s; ramp-up and warm-up included)"
do for [fmt in formats] {
    @setterm
    set output sprintf("%s/series.%s", dir, fmt)
    set multiplot layout 4,1 title sprintf("%s — one run per variant (repetition 0), sampled every 250 ms", title0)
    set title "delivered messages per second (both directions)"
    set ylabel "msg/s"
    set yrange [0:*]
    plot for [v in variants] file(v) using "t_s":"msgs_delivered_per_s" with lines lw 2 lc rgb color(v) dt dash(v) title v
    set title "server threads"
    set ylabel "threads"
    plot for [v in variants] file(v) using "t_s":"threads" with lines lw 2 lc rgb color(v) dt dash(v) title v
    set title "server resident memory"
    set ylabel "RSS (MiB)"
    plot for [v in variants] file(v) using "t_s":(column("rss_bytes") / 1048576) with lines lw 2 lc rgb color(v) dt dash(v) title v
    set title "server CPU (100 % = one core)"
    set ylabel "CPU (%)"
    # from 0: a panel starting at 100 % makes a 5 % wobble look like a collapse
    plot for [v in variants] file(v) using "t_s":"cpu_server_pct" with lines lw 2 lc rgb color(v) dt dash(v) title v
    unset multiplot
    unset output
}
