# common.gp — shared by every chart: one colour per variant (the same in every chart), CSV input, PNG and SVG terminals.
set encoding utf8
set datafile separator comma
set datafile columnheaders
set datafile missing "NaN"
# Any other name (an instance such as poll@50ms, a go: original, a user's module) takes
# a colour, dash and point by its place in the chart's list of variants, from a palette
# the six do not use, so two instances of one design never share a line style.
vi(v) = sum [k = 1:words(variants)] (word(variants, k) eq v ? k : 0)
extra_colors = "#17becf #bcbd22 #e377c2 #000000 #ff9896 #aec7e8 #98df8a #c49c94 #f7b6d2 #dbdb8d #393b79 #637939"
color(v) = v eq "dual" ? "#1f77b4" : v eq "batch" ? "#ff7f0e" : v eq "poll" ? "#d62728" : \
           v eq "hybrid" ? "#9467bd" : v eq "pair" ? "#8c564b" : v eq "evloop" ? "#2ca02c" : \
           word(extra_colors, vi(v) % words(extra_colors) + 1)
# and a dash pattern and point type per variant, so that lines lying on each other still
# read as six (colour alone does not survive overlap, print or colour blindness)
dash(v) = v eq "dual" ? 1 : v eq "batch" ? 2 : v eq "poll" ? 4 : v eq "hybrid" ? 5 : \
          v eq "pair" ? 3 : v eq "evloop" ? 1 : vi(v) % 5 + 1
point(v) = v eq "dual" ? 5 : v eq "batch" ? 6 : v eq "poll" ? 9 : v eq "hybrid" ? 11 : \
           v eq "pair" ? 13 : v eq "evloop" ? 7 : word("1 2 3 4 8 10 12", vi(v) % 7 + 1) + 0
# the terminals every script loops over: `do for [fmt in formats] { @setterm ... }`
formats = "png svg"
setterm = 'if (fmt eq "png") { set terminal pngcairo size W,H font "DejaVu Sans,12" noenhanced dashlength 1.5 } else { set terminal svg size W,H font "DejaVu Sans,12" dynamic noenhanced background "white" dashlength 1.5 }'
set grid xtics ytics lc rgb "#dddddd"
set border lc rgb "#555555"
