# latency.gp — latency by percentile, one line per variant, HdrHistogram style: x = 1/(1-p) on a log axis labelled 90%, 99%, 99.9%...
# usage: gnuplot -c latency.gp <dir> <in|out|rtt> "<variant> ..." "<title>"
#   reads <dir>/lat_<direction>_<variant>.csv (percentile,inv_tail,value_us), writes <dir>/lat_<direction>.png and .svg
dir = ARG1; d = ARG2; variants = ARG3; title0 = ARG4
sd = "."
do for [i = strlen(ARG0):1:-1] { if (sd eq "." && ARG0[i:i] eq "/") { sd = ARG0[1:i-1] } }
load sd."/common.gp"
W = 1000; H = 660
dname = d eq "in" ? "client → app (one way, stamped at the app)" : \
        d eq "out" ? "app → client (one way)" : "round trip (client → app → client)"
set logscale x 10
set logscale y 10
set xrange [1:*]
set xtics ("0%%" 1, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 1e4, "99.999%%" 1e5, "99.9999%%" 1e6, "99.99999%%" 1e7)
set mxtics 10
set xlabel "percentile (axis: 1/(1-p), log scale); latency from the scheduled send time"
set ylabel "latency (µs, log scale)"
set key below horizontal maxrows 1 width 1 samplen 4
set format y "%.0s%c"
do for [fmt in formats] {
    @setterm
    set output sprintf("%s/lat_%s.%s", dir, d, fmt)
    set title sprintf("%s — latency %s, repetitions merged", title0, dname)
    # each variant's own dash and marker; markers sit at different points of each line
    # (pointinterval), so lines on top of each other still show every variant
    plot for [i = 1:words(variants)] sprintf("%s/lat_%s_%s.csv", dir, d, word(variants, i)) using 2:3 \
         with linespoints lw 2 lc rgb color(word(variants, i)) dt dash(word(variants, i)) \
         pt point(word(variants, i)) ps 1.2 pi -(9 + 2 * i) title word(variants, i)
    unset output
}
