# linkbench_man.cmake — the man page at build time: help2man over `linkbench --help` and
# --version, with every subcommand's --help as a section of its own.
# usage: cmake -DLB=<linkbench> -DHELP2MAN=<help2man> -DOUT=<linkbench.1> -P linkbench_man.cmake
set(cmds list run serve merge bench plot report check baseline)
set(inc "[DESCRIPTION]\nlinkbench runs WebSocket gateway link designs side by side over real loopback\nconnections and reports CPU, latency, message loss, threads and memory for each.\n\n")
string(APPEND inc "[COMMANDS]\n")
foreach(c ${cmds})
  execute_process(COMMAND ${LB} ${c} --help OUTPUT_VARIABLE h RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "linkbench ${c} --help failed (${rc})")
  endif()
  # roff: a line starting with . or ' would be a request; backslashes are escapes
  string(REPLACE "\\" "\\\\" h "${h}")
  string(REGEX REPLACE "\n([.'])" "\n\\\\&\\1" h "${h}")
  string(APPEND inc ".SS \"linkbench ${c}\"\n.nf\n${h}.fi\n")
endforeach()
string(APPEND inc "\n[FILES]\n.TP\n.I <prefix>/share/linkbench/workloads\nshipped scenarios and suites (linkbench list --scenarios)\n"
       ".TP\n.I <prefix>/lib/linkbench/variants\nthe built-in link designs (one module each)\n"
       ".TP\n.I <prefix>/share/linkbench/plots\nthe gnuplot scripts that draw the charts\n"
       ".TP\n.I results/<suite or scenario>/<timestamp>/index.html\nthe results page of a run\n")
get_filename_component(dir ${OUT} DIRECTORY)
file(WRITE ${dir}/linkbench.h2m "${inc}")
execute_process(COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section=1
                        "--name=measure WebSocket gateway link designs over loopback connections"
                        --include=${dir}/linkbench.h2m --output=${OUT} ${LB}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed (${rc})")
endif()
