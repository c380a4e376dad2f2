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

zmem_test(test_stacktab)
target_link_libraries(test_stacktab PRIVATE zmem_sites_table)

zmem_test(test_sample)
target_link_libraries(test_sample PRIVATE zmem_sites_preload)
