# Precompiled headers for every pier target (CI time and the quick start's first build).
#
# Nearly every source file reads common/messages.h, and so msgpack-c, ZeroMQ and spdlog: measured on this
# tree with g++ 12, parsing those alone took 5 to 7 s of each file's compile (msgpack's MSGPACK_DEFINE_MAP
# instantiates each message's unpack code in the header, 40 messages), a third of a -O2 compile and half
# of a test's. One precompiled header per kind of target carries them: the libraries' and programs' one
# on pier_common, the tests' one (GoogleTest added) on common_tests; every other target of its kind
# reuses it (REUSE_FROM), so a build parses them twice instead of ~200 times. A header that does not fit
# a target's flags is refused by g++ with -Winvalid-pch (CMake adds it), never silently wrong.
#   -DPIER_PCH=OFF builds without them (e.g. to check that each file includes what it uses).

option(PIER_PCH "Precompile the headers nearly every source file reads" ON)

# ccache caches compiles that read a precompiled header only when told that the header's time macros and
# defines are accounted for (its manual, "Precompiled headers"); ccache 4.7 takes that from the environment.
if(PIER_PCH AND CMAKE_CXX_COMPILER_LAUNCHER STREQUAL "ccache")
  set(CMAKE_CXX_COMPILER_LAUNCHER env CCACHE_SLOPPINESS=pch_defines,time_macros ccache)
endif()

# Named as the sources name them, not by absolute path: the generated header is then the same text in
# every checkout, so ccache (CCACHE_BASEDIR) hands a clone in another folder (CI's) the precompiled header
# an earlier build made, and every file that reads it hits the cache too. (g++'s .gch itself differs from
# one folder to the next, so a header compiled anew would make every file that reads it miss.)
set(PIER_PCH_HEADERS <msgpack.hpp> <zmq.hpp> <spdlog/spdlog.h> <common/messages.h>)
set(PIER_TEST_PCH_HEADERS ${PIER_PCH_HEADERS} <gtest/gtest.h> <gmock/gmock.h>)

function(pier_collect_targets dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    pier_collect_targets(${sub} more)
    list(APPEND targets ${more})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# Whether `target` links pier_common, directly or through pier's own libraries (the precompiled header
# brings spdlog's and ZeroMQ's calls, which only pier_common's links satisfy).
function(pier_links_common target out)
  set(found FALSE)
  if(target STREQUAL "pier_common")
    set(found TRUE)
  else()
    get_target_property(links ${target} LINK_LIBRARIES)
    foreach(link ${links})
      if(link MATCHES "^pier_" AND TARGET ${link})
        pier_links_common(${link} via)
        if(via)
          set(found TRUE)
          break()
        endif()
      endif()
    endforeach()
  endif()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

# A target takes a precompiled header when it compiles C++ against pier_common; its kind is "test" when it
# lives under tests/ or tests/CMakeLists.txt adds it (those compile with flags of their own, -O0 in
# RelWithDebInfo), but for the fuzz targets, which tests/fuzz builds with the libraries' flags.
function(pier_pch_kind target out)
  set(kind "")
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE" OR type STREQUAL "STATIC_LIBRARY")
    pier_links_common(${target} links_common)
    get_target_property(source_dir ${target} SOURCE_DIR)
    if(links_common)
      # Whatever tests/CMakeLists.txt adds, from under tests/ or not (bench/fleet comes in through
      # tests/fleet), has its -O0: the directory's options say which flags a target compiles with.
      get_property(dir_options DIRECTORY ${source_dir} PROPERTY COMPILE_OPTIONS)
      set(kind "lib")
      if(("-O0" IN_LIST dir_options OR source_dir MATCHES "^${PROJECT_SOURCE_DIR}/tests/")
         AND NOT source_dir MATCHES "/tests/fuzz$")
        set(kind "test")
      endif()
    endif()
  endif()
  set(${out} ${kind} PARENT_SCOPE)
endfunction()

function(pier_precompile_headers)
  if(NOT PIER_PCH)
    return()
  endif()
  pier_collect_targets(${PROJECT_SOURCE_DIR} targets)
  set(lib_host pier_common)
  set(test_host common_tests)
  target_precompile_headers(${lib_host} PRIVATE ${PIER_PCH_HEADERS})
  if(TARGET ${test_host})
    target_precompile_headers(${test_host} PRIVATE ${PIER_TEST_PCH_HEADERS})
  endif()
  foreach(target ${targets})
    if(target STREQUAL lib_host OR target STREQUAL test_host)
      continue()
    endif()
    pier_pch_kind(${target} kind)
    if(kind STREQUAL "lib")
      target_precompile_headers(${target} REUSE_FROM ${lib_host})
    elseif(kind STREQUAL "test" AND TARGET ${test_host})
      target_precompile_headers(${target} REUSE_FROM ${test_host})
    endif()
  endforeach()
endfunction()
