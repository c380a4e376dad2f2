# Tests of allocation sites: the preload's stack capture, stack table and
# sampling, the command's symbols and output formats. Included from
# tests/CMakeLists.txt.
add_library(zmem_test_nofp OBJECT sites/nofp.c)
target_compile_options(zmem_test_nofp PRIVATE -O2 -fomit-frame-pointer
  -fno-optimize-sibling-calls -fno-inline ${ZMEM_WARNINGS})

zmem_test(test_unwind)
target_sources(test_unwind PRIVATE $<TARGET_OBJECTS:zmem_test_nofp>)
target_include_directories(test_unwind PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(test_unwind PRIVATE zmem_sites_preload)
set_target_properties(test_unwind PROPERTIES ENABLE_EXPORTS ON)
# A dlopened library without frame pointers, for the CFI walk.
add_library(zmem_test_nofpdl SHARED sites/libnofpdl.c)
target_compile_options(zmem_test_nofpdl PRIVATE -O2 -fomit-frame-pointer
  -fno-optimize-sibling-calls ${ZMEM_WARNINGS})
add_dependencies(test_unwind zmem_test_nofpdl)
target_compile_definitions(test_unwind PRIVATE
  ZT_NOFP_DL="$<TARGET_FILE:zmem_test_nofpdl>")

zmem_test(test_stacktab)
target_link_libraries(test_stacktab PRIVATE zmem_sites_table)

zmem_test(test_sample)
target_link_libraries(test_sample PRIVATE zmem_sites_preload)

# The preload's table of live blocks, compiled in from its source.
zmem_test(test_sizes)
target_sources(test_sizes PRIVATE ${PROJECT_SOURCE_DIR}/preload/sizes.c)
target_include_directories(test_sizes PRIVATE ${PROJECT_SOURCE_DIR}/preload)

# A library with debug information and a stripped copy of it.
add_library(zmem_test_site SHARED sites/libsite.c)
target_compile_options(zmem_test_site PRIVATE -g ${ZMEM_WARNINGS})
add_custom_command(TARGET zmem_test_site POST_BUILD
  COMMAND ${CMAKE_OBJCOPY} --strip-all $<TARGET_FILE:zmem_test_site>
          $<TARGET_FILE_DIR:zmem_test_site>/libzmem_test_site_stripped.so
  VERBATIM)

zmem_test(test_symbolize)
add_dependencies(test_symbolize zmem_test_site)
target_link_libraries(test_symbolize PRIVATE zmem_sites_cli zmem_sites_preload)
target_compile_options(test_symbolize PRIVATE -g)
target_compile_definitions(test_symbolize PRIVATE
  ZT_SITE_LIB="$<TARGET_FILE:zmem_test_site>"
  ZT_SITE_LIB_STRIPPED="$<TARGET_FILE_DIR:zmem_test_site>/libzmem_test_site_stripped.so")

# The pieces end to end in one process, checked by check_sites.py with the
# real `go tool pprof` and headless Chromium.
add_library(zmem_test_dlsite SHARED sites/libdlsite.c)
target_compile_options(zmem_test_dlsite PRIVATE -g -fno-omit-frame-pointer ${ZMEM_WARNINGS})
add_executable(sites_demo sites/sites_demo.c)
add_dependencies(sites_demo zmem_test_dlsite)
target_link_libraries(sites_demo PRIVATE zmem_sites_cli zmem_sites_preload)
target_compile_options(sites_demo PRIVATE -g ${ZMEM_WARNINGS})
target_compile_definitions(sites_demo PRIVATE ZT_DLSITE_LIB="$<TARGET_FILE:zmem_test_dlsite>")
set_target_properties(sites_demo PROPERTIES ENABLE_EXPORTS ON)
add_test(NAME sites_outputs
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/sites/check_sites.py
          $<TARGET_FILE:sites_demo> ${CMAKE_CURRENT_BINARY_DIR}/sites-out)
set_tests_properties(sites_outputs PROPERTIES TIMEOUT 400 SKIP_RETURN_CODE 77
  ENVIRONMENT_MODIFICATION "${_zm_test_env}")

# Not a test: the program that tests/sites/unwind_cost.c describes, for
# callgrind counts of the capture (docs/sites.md).
add_executable(unwind_cost sites/unwind_cost.c)
target_link_libraries(unwind_cost PRIVATE zmem_sites_preload)
target_compile_options(unwind_cost PRIVATE ${ZMEM_WARNINGS})

# `zmem run --sites` on programs with known sites (tests/sites/).
add_subdirectory(sites)

# The launcher's reading of the record, which the program may change at
# any time (cli/read.c, the stack-table reader, module files, escaping).
zmem_test(test_reader)
target_sources(test_reader PRIVATE ${PROJECT_SOURCE_DIR}/cli/read.c)
target_include_directories(test_reader PRIVATE ${PROJECT_SOURCE_DIR}/cli
  ${PROJECT_SOURCE_DIR}/preload)
target_link_libraries(test_reader PRIVATE zmem_sites_cli)
