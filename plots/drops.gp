# drops.gp — messages dropped, refused and lost per variant for one scenario (medians over repetitions), bars with their values.
# usage: gnuplot -c drops.gp <dir> "<title>"   (reads <dir>/drops.csv, writes <dir>/drops.png and .svg)
dir = ARG1; title0 = ARG2
sd = "."
do for [i = strlen(ARG0):1:-1] { if (sd eq "." && ARG0[i:i] eq "/") { sd = ARG0[1:i-1] } }
load sd."/common.gp"
W = 900; H = 560
f = dir."/drops.csv"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9 relative
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set grid noxtics ytics
set ylabel "messages (median over repetitions)"
set xlabel "variant"
set key top left box opaque
do for [fmt in formats] {
    @setterm
    set output sprintf("%s/drops.%s", dir, fmt)
    set title sprintf("%s — messages dropped, refused and lost (lost must be 0)", title0)
    plot f using 3:xtic(1) title "dropped (named reason)" lc rgb "#d62728", \
         '' using 4 title "refused by send" lc rgb "#ff7f0e", \
         '' using 5 title "lost (unaccounted)" lc rgb "#000000", \
         '' using ($0 - 0.25):3:(sprintf("%.0f", $3)) with labels offset 0,0.8 notitle, \
         '' using ($0):4:(sprintf("%.0f", $4)) with labels offset 0,0.8 notitle, \
         '' using ($0 + 0.25):5:(sprintf("%.0f", $5)) with labels offset 0,0.8 notitle
    unset output
}
