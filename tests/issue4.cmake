# Tests of issue 4: options, reports, system figures. Included from
# tests/CMakeLists.txt. Every test runs in its own process (Criterion forks
# and re-executes per test), through run_test.sh like the rest of the suite.
# test_options uses Criterion's parameterized tests, which the TSan stand-in
# (shim/) does not provide; it is single-threaded, and zm_configure racing
# other threads is exercised by report_threads, which does run under TSan.
set(_zm4_tests options report sysinfo)
if(ZMEM_TEST_CRITERION_SHIM)
  list(REMOVE_ITEM _zm4_tests options)
endif()
foreach(t ${_zm4_tests})
  zmem_test(test_${t})
  target_compile_definitions(test_${t} PRIVATE ZM4_BACKEND="${ZMEM_BACKEND}")
endforeach()
set(ZM4_RUNNER ${ZMEM_TEST_WRAP} --plain)

# Reports, options and figures read while other threads allocate: a plain
# program, so that it runs in the TSan build too (Criterion cannot start
# under TSan: Snaipe/Criterion#274).
add_executable(report_threads report_threads.c)
target_link_libraries(report_threads PRIVATE zmem Threads::Threads)
target_compile_options(report_threads PRIVATE ${ZMEM_WARNINGS})
add_test(NAME report_threads COMMAND ${ZM4_RUNNER} $<TARGET_FILE:report_threads>)
set_tests_properties(report_threads PROPERTIES TIMEOUT 600
  ENVIRONMENT_MODIFICATION "${_zm_test_env}")

# The JSON and Prometheus reports through real parsers. The Python that has
# prometheus_client (Debian: python3-prometheus-client) may not be the first
# python3 on PATH, so try the system one too. promtool (Debian: prometheus)
# is used when present.
add_executable(report_dump report_dump.c)
target_link_libraries(report_dump PRIVATE zmem)
target_compile_options(report_dump PRIVATE ${ZMEM_WARNINGS})

find_program(ZM4_PATH_PYTHON NAMES python3)
set(ZM4_PYTHON "")
foreach(py ${ZM4_PATH_PYTHON} /usr/bin/python3)
  if(NOT ZM4_PYTHON AND EXISTS "${py}")
    execute_process(COMMAND "${py}" -c "import prometheus_client"
                    RESULT_VARIABLE _zm4_rc OUTPUT_QUIET ERROR_QUIET)
    if(_zm4_rc EQUAL 0)
      set(ZM4_PYTHON "${py}")
    endif()
  endif()
endforeach()
if(NOT ZM4_PYTHON)
  message(WARNING "No python3 with prometheus_client (Debian: "
          "python3-prometheus-client): the report_prometheus tests will fail")
  set(ZM4_PYTHON ${ZM4_PATH_PYTHON})
endif()
find_program(ZM4_PROMTOOL promtool)
set(_zm4_promtool "")
if(ZM4_PROMTOOL)
  set(_zm4_promtool --promtool ${ZM4_PROMTOOL})
endif()

foreach(fmt json prometheus text)
  foreach(tags "" --tags)
    set(_name report_${fmt})
    if(tags)
      string(APPEND _name _tags)
    endif()
    set(_extra "")
    if(fmt STREQUAL "prometheus")
      set(_extra ${_zm4_promtool})
    endif()
    add_test(NAME ${_name}
      COMMAND ${ZM4_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/check_report.py
              ${fmt} ${tags} ${_extra} -- ${ZM4_RUNNER} $<TARGET_FILE:report_dump>)
    set_tests_properties(${_name} PROPERTIES TIMEOUT 600)
  endforeach()
endforeach()
