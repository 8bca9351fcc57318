# scale.gp — cost of holding links versus links held, one line per variant: CPU per link-second, threads, wake-ups and RSS per link.
# usage: gnuplot -c scale.gp <dir> "<variant> ..." "<title>"   (reads <dir>/scale_<variant>.csv, writes <dir>/scale.png and .svg)
dir = ARG1; variants = ARG2; title0 = ARG3
sd = "."
do for [i = strlen(ARG0):1:-1] { if (sd eq "." && ARG0[i:i] eq "/") { sd = ARG0[1:i-1] } }
load sd."/common.gp"
W = 1100; H = 900
file(v) = sprintf("%s/scale_%s.csv", dir, v)
set key top left box opaque
set logscale x 10
set xlabel "links held (log scale)"
set format x "%g"
do for [fmt in formats] {
    @setterm
    set output sprintf("%s/scale.%s", dir, fmt)
    set multiplot layout 2,2 title sprintf("%s — cost of holding links, by links held (medians)", title0)
    set title "server CPU per link-second (whole process)"
    set ylabel "CPU µs per link-second (log)"
    set logscale y 10
    plot for [v in variants] file(v) using "links_held":"cpu_us_per_link_s" with linespoints lw 2 pt point(v) ps 1.2 dt dash(v) lc rgb color(v) title v
    set title "server threads (peak)"
    set ylabel "threads (log)"
    plot for [v in variants] file(v) using "links_held":"threads_peak" with linespoints lw 2 pt point(v) ps 1.2 dt dash(v) lc rgb color(v) title v
    unset logscale y
    set title "wake-ups per link-second (link threads or loops)"
    set ylabel "wake-ups per link-second"
    set yrange [0:*]
    plot for [v in variants] file(v) using "links_held":"wakeups_per_link_s" with linespoints lw 2 pt point(v) ps 1.2 dt dash(v) lc rgb color(v) title v
    set title "resident memory per link"
    set ylabel "RSS per link (KiB)"
    plot for [v in variants] file(v) using "links_held":(column("rss_per_link_bytes") / 1024) with linespoints lw 2 pt point(v) ps 1.2 dt dash(v) lc rgb color(v) title v
    set autoscale y
    unset multiplot
    unset output
}
