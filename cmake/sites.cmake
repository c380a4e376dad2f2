# Allocation sites: the pieces of the preload (stack capture, module list,
# stack table, byte sampling) and of the `zmem` command (symbols, pprof,
# folded stacks, flame graph), each a static library that the preload and
# the command link. Included from the top-level CMakeLists.txt.
pkg_check_modules(ZM_UNWIND REQUIRED IMPORTED_TARGET libunwind)
pkg_check_modules(ZM_DW REQUIRED IMPORTED_TARGET libdw)
find_package(ZLIB REQUIRED)

# The stack table: written by the preload, read by the command.
add_library(zmem_sites_table STATIC preload/stacktab.c)
target_include_directories(zmem_sites_table PUBLIC ${PROJECT_SOURCE_DIR}/preload)
target_compile_options(zmem_sites_table PRIVATE ${ZMEM_WARNINGS})
set_target_properties(zmem_sites_table PROPERTIES
  POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)

# Linked into a preloaded shared object: position-independent, and with
# frame pointers, which the frame-pointer walk starts from.
add_library(zmem_sites_preload STATIC
  preload/modules.c
  preload/sample.c
  preload/unwind.c)
target_include_directories(zmem_sites_preload PUBLIC ${PROJECT_SOURCE_DIR}/preload)
target_compile_options(zmem_sites_preload PRIVATE ${ZMEM_WARNINGS})
target_compile_options(zmem_sites_preload PUBLIC -fno-omit-frame-pointer)
target_link_libraries(zmem_sites_preload PUBLIC zmem_sites_table PkgConfig::ZM_UNWIND Threads::Threads
  ${CMAKE_DL_LIBS} m)
set_target_properties(zmem_sites_preload PROPERTIES
  POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)

# The command's side: symbols and the output formats.
add_library(zmem_sites_cli STATIC
  cli/flame.c
  cli/folded.c
  cli/pprof.c
  cli/profile.c
  cli/symbolize.c
  cli/topsites.c)
target_include_directories(zmem_sites_cli PUBLIC ${PROJECT_SOURCE_DIR}/cli)
target_compile_options(zmem_sites_cli PRIVATE ${ZMEM_WARNINGS})
target_link_libraries(zmem_sites_cli PUBLIC zmem_sites_table PkgConfig::ZM_DW ZLIB::ZLIB m)
