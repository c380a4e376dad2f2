# The reports (zm_stats_print) checked from outside: read while other
# threads allocate, and parsed by real parsers. Included from
# tests/CMakeLists.txt; every program runs through run_test.sh like the rest
# of the suite.
set(ZMEM_TEST_PLAIN ${ZMEM_TEST_WRAP} --plain)

# Reports, options and figures read while other threads allocate: a plain
# program, so that it runs in the TSan build too.
add_executable(report_threads report_threads.c)
target_link_libraries(report_threads PRIVATE zmem Threads::Threads)
target_compile_options(report_threads PRIVATE ${ZMEM_WARNINGS})
add_test(NAME report_threads COMMAND ${ZMEM_TEST_PLAIN} $<TARGET_FILE:report_threads>)
set_tests_properties(report_threads PROPERTIES TIMEOUT 600
  ENVIRONMENT_MODIFICATION "${_zm_test_env}")

# The JSON and Prometheus reports through real parsers: Python's json and
# prometheus_client (ZMEM_TEST_PYTHON, found by cmake/tests.cmake), and
# promtool (Debian: prometheus) when present.
add_executable(report_dump report_dump.c)
target_link_libraries(report_dump PRIVATE zmem)
target_compile_options(report_dump PRIVATE ${ZMEM_WARNINGS})

find_program(ZMEM_PROMTOOL promtool)
set(_zm_promtool "")
if(ZMEM_PROMTOOL)
  set(_zm_promtool --promtool ${ZMEM_PROMTOOL})
endif()

foreach(fmt json prometheus text)
  foreach(tags "" --tags)
    set(_name report_${fmt})
    if(tags)
      string(APPEND _name _tags)
    endif()
    set(_extra "")
    if(fmt STREQUAL "prometheus")
      set(_extra ${_zm_promtool})
    endif()
    add_test(NAME ${_name}
      COMMAND ${ZMEM_TEST_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/check_report.py
              ${fmt} ${tags} ${_extra} -- ${ZMEM_TEST_PLAIN} $<TARGET_FILE:report_dump>)
    set_tests_properties(${_name} PROPERTIES TIMEOUT 600)
  endforeach()
endforeach()
