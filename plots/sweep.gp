# sweep.gp — one design's instances swept over one param: CPU, wake-ups, latency (and threads, links, drops where they moved) versus the param's value.
# usage: gnuplot -c sweep.gp <dir> <stem> <param> "<panel> ..." "<title>"
#   reads <dir>/<stem>.csv (value,variant,cpu_us_per_link_s,...: sim/rep/internal/rep_sweep.h), writes <dir>/<stem>.png and .svg
#   panels: cpu wakeups lat_out lat_in lat_rtt threads links dropped (rep_sweep.c chooses the ones with data)
dir = ARG1; stem = ARG2; param = ARG3; panels = ARG4; title0 = ARG5
sd = "."
do for [i = strlen(ARG0):1:-1] { if (sd eq "." && ARG0[i:i] eq "/") { sd = ARG0[1:i-1] } }
variants = ""
load sd."/common.gp"
f = sprintf("%s/%s.csv", dir, stem)
n = words(panels)
cols = n > 1 ? 2 : 1
rows = int((n + cols - 1) / cols)
W = 1100; H = 80 + 330 * rows
stats f using 1 nooutput
# a param spanning a decade or more is read on a log axis (1, 2, 5, 10, 20, 50 ms)
logx = STATS_min > 0 && STATS_max >= 10 * STATS_min
if (logx) { set logscale x 10 }
set xrange [STATS_min / (logx ? 1.25 : 1) : STATS_max * (logx ? 1.25 : 1)]
set xlabel sprintf("%s%s", param, logx ? " (log scale)" : "")
set format x "%g"
set format y "%g"
set offsets 0, 0, graph 0.12, 0
c1 = "#d62728"; c2 = "#1f77b4"
do for [fmt in formats] {
    @setterm
    set output sprintf("%s/%s.%s", dir, stem, fmt)
    set multiplot layout rows, cols title sprintf("%s (medians; each point labelled with its variant)", title0)
    do for [k = 1:n] {
        p = word(panels, k)
        unset logscale y
        unset key
        set yrange [0:*]
        if (p eq "cpu") {
            set title "server CPU per link-second (whole process)"
            set ylabel "CPU µs per link-second"
            plot f using "value":"cpu_us_per_link_s" with linespoints lw 2 pt 7 lc rgb c1 notitle, \
                 f using "value":"cpu_us_per_link_s":"variant" with labels offset 0,1 font ",9" notitle
        }
        if (p eq "wakeups") {
            set title "thread wake-ups per link-second"
            set ylabel "wake-ups per link-second"
            plot f using "value":"wakeups_per_link_s" with linespoints lw 2 pt 7 lc rgb c1 notitle
        }
        if (p eq "lat_out" || p eq "lat_in" || p eq "lat_rtt") {
            d = p eq "lat_out" ? "out" : p eq "lat_in" ? "in" : "rtt"
            set title (d eq "out" ? "app → client latency" : d eq "in" ? "client → app latency" : "round trip") \
                      ." (censored: undelivered messages at their age)"
            set ylabel "µs (log scale)"
            set logscale y 10
            set yrange [*:*]
            set key top left box opaque
            plot f using "value":sprintf("lat_%s_p50_us", d) with linespoints lw 2 pt 7 lc rgb c2 title "p50", \
                 f using "value":sprintf("lat_%s_p99_us", d) with linespoints lw 2 pt 9 dt 2 lc rgb c1 title "p99"
        }
        if (p eq "threads") {
            set title "threads per link"
            set ylabel "threads per link"
            plot f using "value":"threads_per_link" with linespoints lw 2 pt 7 lc rgb c1 notitle
        }
        if (p eq "links") {
            set title "links held at the end"
            set ylabel "links"
            plot f using "value":"links" with linespoints lw 2 pt 7 lc rgb c1 notitle
        }
        if (p eq "dropped") {
            set title "messages dropped"
            set ylabel "messages"
            plot f using "value":"msgs_dropped" with linespoints lw 2 pt 7 lc rgb c1 notitle
        }
    }
    unset multiplot
    unset output
}
