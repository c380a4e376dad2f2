# Decides whether the test suite is built: sets ZMEM_TESTS_ENABLED, and for
# tests/CMakeLists.txt ZMEM_TEST_TSAN, ZMEM_TEST_CRITERION_SHIM and
# ZMEM_TEST_PYTHON.
#
# ZMEM_BUILD_TESTS=AUTO (the default): on when zmem is the top-level project
# and every test dependency is found; otherwise off, with a message naming
# the Debian packages that would turn it on. ON: a missing dependency is an
# error. OFF: no tests.

string(TOUPPER "${ZMEM_BUILD_TESTS}" _zt_mode)
if(_zt_mode MATCHES "^(ON|YES|TRUE|Y|1)$")
  set(_zt_mode ON)
elseif(_zt_mode MATCHES "^(OFF|NO|FALSE|N|0)$")
  set(_zt_mode OFF)
elseif(NOT _zt_mode STREQUAL "AUTO")
  message(FATAL_ERROR "ZMEM_BUILD_TESTS must be AUTO, ON or OFF, not '${ZMEM_BUILD_TESTS}'")
endif()

set(ZMEM_TESTS_ENABLED OFF)
if(_zt_mode STREQUAL "OFF")
  return()
endif()
if(_zt_mode STREQUAL "AUTO" AND NOT _zm_top)
  message(STATUS "zmem: tests off (zmem is not the top-level project; "
          "-DZMEM_BUILD_TESTS=ON builds them)")
  return()
endif()

# Criterion cannot start under ThreadSanitizer (its BoxFort sandbox maps its
# arena where TSan reserves memory; Criterion issue #274). There the tests
# are built against tests/shim/, a stand-in for the part of Criterion's API
# the suite uses that also runs each test in a process of its own.
string(TOUPPER "${CMAKE_BUILD_TYPE}" _zt_bt)
set(_zt_flags "${CMAKE_C_FLAGS} ${CMAKE_C_FLAGS_${_zt_bt}} ${CMAKE_EXE_LINKER_FLAGS}")
if(_zt_flags MATCHES "-fsanitize=([a-z,]*,)?thread")
  set(ZMEM_TEST_TSAN ON)
else()
  set(ZMEM_TEST_TSAN OFF)
endif()
set(_zt_shim_default ${ZMEM_TEST_TSAN})
option(ZMEM_TEST_CRITERION_SHIM "Build the tests against tests/shim, not Criterion"
  ${_zt_shim_default})

# What each dependency is called in Debian 12.
set(_zt_missing "")
if(NOT PKG_CONFIG_FOUND)
  list(APPEND _zt_missing pkgconf) # test_install.sh, and Criterion's .pc
endif()
if(NOT ZMEM_TEST_CRITERION_SHIM)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(CRITERION QUIET IMPORTED_TARGET criterion)
  endif()
  if(NOT TARGET PkgConfig::CRITERION)
    list(APPEND _zt_missing libcriterion-dev)
  endif()
endif()

# The report tests parse the output with Python's json module and
# prometheus_client. The Python that has prometheus_client may not be the
# first python3 on PATH (a virtual environment), so try the system one too.
find_program(ZMEM_PATH_PYTHON NAMES python3)
set(ZMEM_TEST_PYTHON "")
foreach(_zt_py ${ZMEM_PATH_PYTHON} /usr/bin/python3)
  if(NOT ZMEM_TEST_PYTHON AND EXISTS "${_zt_py}")
    execute_process(COMMAND "${_zt_py}" -c "import prometheus_client"
                    RESULT_VARIABLE _zt_rc OUTPUT_QUIET ERROR_QUIET)
    if(_zt_rc EQUAL 0)
      set(ZMEM_TEST_PYTHON "${_zt_py}")
    endif()
  endif()
endforeach()
if(NOT ZMEM_TEST_PYTHON)
  if(NOT ZMEM_PATH_PYTHON AND NOT EXISTS /usr/bin/python3)
    list(APPEND _zt_missing python3)
  endif()
  list(APPEND _zt_missing python3-prometheus-client)
endif()

if(_zt_missing)
  list(JOIN _zt_missing " " _zt_list)
  set(_zt_how "install them with: apt-get install -y ${_zt_list} (or run scripts/deps.sh test)")
  if(_zt_mode STREQUAL "ON")
    message(FATAL_ERROR "zmem: ZMEM_BUILD_TESTS=ON, but the tests need "
            "packages that are missing: ${_zt_list}; ${_zt_how}")
  endif()
  message(STATUS "zmem: tests OFF: missing ${_zt_list}; ${_zt_how}, then "
          "configure again (-DZMEM_BUILD_TESTS=OFF silences this)")
  return()
endif()
set(ZMEM_TESTS_ENABLED ON)
message(STATUS "zmem: tests on (ctest --test-dir ${PROJECT_BINARY_DIR})")
