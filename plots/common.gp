# common.gp — shared by every chart: one colour per variant (the same in every chart), CSV input, PNG and SVG terminals.
set encoding utf8
set datafile separator comma
set datafile columnheaders
set datafile missing "NaN"
color(v) = v eq "dual" ? "#1f77b4" : v eq "batch" ? "#ff7f0e" : v eq "poll" ? "#d62728" : \
           v eq "hybrid" ? "#9467bd" : v eq "pair" ? "#8c564b" : v eq "evloop" ? "#2ca02c" : "#7f7f7f"
# the terminals every script loops over: `do for [fmt in formats] { @setterm ... }`
formats = "png svg"
setterm = 'if (fmt eq "png") { set terminal pngcairo size W,H font "DejaVu Sans,11" noenhanced } else { set terminal svg size W,H font "DejaVu Sans,11" dynamic noenhanced background "white" }'
set grid xtics ytics lc rgb "#dddddd"
set border lc rgb "#555555"
