# overview.gp — drops and lost per scenario, one bar per variant (medians; the newest report of each scenario@links).
# usage: gnuplot -c overview.gp <dir> "<variant> ..." <log|linear>   (log: some drops > 0; a log axis of only zeros has no points to draw)   (reads <dir>/overview_dropped.csv and overview_lost.csv, writes <dir>/overview.png and .svg)
dir = ARG1; variants = ARG2; yscale = ARG3
sd = "."
do for [i = strlen(ARG0):1:-1] { if (sd eq "." && ARG0[i:i] eq "/") { sd = ARG0[1:i-1] } }
load sd."/common.gp"
W = 1200; H = 900
n = words(variants)
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9 relative
set grid noxtics ytics
set xtics rotate by -30 left
set key outside right top
do for [fmt in formats] {
    @setterm
    set output sprintf("%s/overview.%s", dir, fmt)
    set multiplot layout 2,1 title "Messages dropped and lost, per scenario and variant (medians over repetitions)"
    if (yscale eq "log") {
        set title "dropped with a named reason (log scale: no bar = none dropped, or not run)"
        set ylabel "messages (log)"
        set logscale y 10
        set yrange [0.8:*]
    } else {
        set title "dropped with a named reason (none in these scenarios)"
        set ylabel "messages"
        set yrange [0:*]
    }
    plot for [i = 1:n] dir."/overview_dropped.csv" using (column(i + 1)):xtic(1) lc rgb color(word(variants, i)) title word(variants, i)
    unset logscale y
    set title "lost: unaccounted for (must be 0 everywhere)"
    set ylabel "messages"
    set yrange [0:*]
    set offsets 0, 0, 1, 0
    plot for [i = 1:n] dir."/overview_lost.csv" using (column(i + 1)):xtic(1) lc rgb color(word(variants, i)) title word(variants, i)
    set offsets 0, 0, 0, 0
    unset multiplot
    unset output
}
