# Allocation sites: the pieces of the preload (stack capture, module list,
# stack table, byte sampling) and of the `zmem` command (symbols, pprof,
# folded stacks, flame graph), each a static library that the preload and
# the command link. Included from the top-level CMakeLists.txt.
# Found without pkg-config too (a build may run with PKG_CONFIG_LIBDIR
# elsewhere); a missing one stops the configure step with the package to
# install.
function(zmem_sites_need var lib header package)
  find_library(${var}_LIB ${lib})
  find_path(${var}_INC ${header})
  if(NOT ${var}_LIB OR NOT ${var}_INC)
    message(FATAL_ERROR "zmem: allocation sites need ${package}: "
      "sudo apt-get install -y ${package} (or -DZMEM_BUILD_RUN=OFF)")
  endif()
  add_library(zmem::${lib} UNKNOWN IMPORTED)
  set_target_properties(zmem::${lib} PROPERTIES IMPORTED_LOCATION ${${var}_LIB}
    INTERFACE_INCLUDE_DIRECTORIES ${${var}_INC})
endfunction()
zmem_sites_need(ZM_UNWIND unwind libunwind.h libunwind-dev)
zmem_sites_need(ZM_DW dw elfutils/libdwfl.h libdw-dev)
zmem_sites_need(ZM_ELF elf libelf.h libelf-dev)
target_link_libraries(zmem::dw INTERFACE zmem::elf)
find_package(ZLIB)
if(NOT ZLIB_FOUND)
  message(FATAL_ERROR "zmem: allocation sites need zlib1g-dev: "
    "sudo apt-get install -y zlib1g-dev (or -DZMEM_BUILD_RUN=OFF)")
endif()

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
target_link_libraries(zmem_sites_preload PUBLIC zmem_sites_table zmem::unwind Threads::Threads
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
target_link_libraries(zmem_sites_cli PUBLIC zmem_sites_table zmem::dw ZLIB::ZLIB m)
