# Allocation sites: the pieces of the preload (stack capture, module list,
# stack table, byte sampling) and of the `zmem` command (symbols, pprof,
# folded stacks, flame graph), each a static library that the preload and
# the command link. Included from the top-level CMakeLists.txt.
# Found without pkg-config too (a build may run with PKG_CONFIG_LIBDIR
# elsewhere). With ZMEM_BUILD_RUN=AUTO a missing one leaves the preload and
# the command out, and the configure step names the packages to install;
# with ON it stops the configure step.
set(_zm_run_missing "")
function(zmem_sites_need var lib header package)
  find_library(${var}_LIB ${lib})
  find_path(${var}_INC ${header})
  if(NOT ${var}_LIB OR NOT ${var}_INC)
    set(_zm_run_missing ${_zm_run_missing} ${package} PARENT_SCOPE)
    return()
  endif()
  add_library(zmem::${lib} UNKNOWN IMPORTED)
  set_target_properties(zmem::${lib} PROPERTIES IMPORTED_LOCATION ${${var}_LIB}
    INTERFACE_INCLUDE_DIRECTORIES ${${var}_INC})
endfunction()
zmem_sites_need(ZM_UNWIND unwind libunwind.h libunwind-dev)
zmem_sites_need(ZM_DW dw elfutils/libdwfl.h libdw-dev)
zmem_sites_need(ZM_ELF elf libelf.h libelf-dev)
find_package(ZLIB)
if(NOT ZLIB_FOUND)
  list(APPEND _zm_run_missing zlib1g-dev)
endif()
set(ZMEM_RUN_ENABLED ON)
if(_zm_run_missing)
  string(REPLACE ";" " " _zm_pkgs "${_zm_run_missing}")
  if(ZMEM_BUILD_RUN STREQUAL "ON")
    message(FATAL_ERROR "zmem: the zmem command (zmem run) needs ${_zm_pkgs}: "
      "sudo apt-get install -y ${_zm_pkgs} (or -DZMEM_BUILD_RUN=OFF)")
  endif()
  message(STATUS "zmem: the zmem command (zmem run) and its preload library "
    "are not built: they need ${_zm_pkgs} (sudo apt-get install -y ${_zm_pkgs})")
  set(ZMEM_RUN_ENABLED OFF)
  return()
endif()
target_link_libraries(zmem::dw INTERFACE zmem::elf)

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
  preload/unwind.c
  preload/cfi.c)
target_include_directories(zmem_sites_preload PUBLIC ${PROJECT_SOURCE_DIR}/preload)
target_compile_options(zmem_sites_preload PRIVATE ${ZMEM_WARNINGS})
target_compile_options(zmem_sites_preload PUBLIC -fno-omit-frame-pointer)
target_link_libraries(zmem_sites_preload PUBLIC zmem_sites_table zmem::unwind Threads::Threads
  ${CMAKE_DL_LIBS} m)
set_target_properties(zmem_sites_preload PROPERTIES
  POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)

# The command's side: symbols and the output formats.
add_library(zmem_sites_cli STATIC
  cli/demangle.c
  cli/escape.c
  cli/flame.c
  cli/folded.c
  cli/pprof.c
  cli/profile.c
  cli/symbolize.c
  cli/symhint.c
  cli/topsites.c)
target_include_directories(zmem_sites_cli PUBLIC ${PROJECT_SOURCE_DIR}/cli)
target_compile_options(zmem_sites_cli PRIVATE ${ZMEM_WARNINGS})
target_link_libraries(zmem_sites_cli PUBLIC zmem_sites_table zmem::dw ZLIB::ZLIB m
  ${CMAKE_DL_LIBS})
