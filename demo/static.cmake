# pier-demo-app-static: the same demo app linked with -static, for the FROM-scratch image
# pier/demo-app (scripts/images.sh). It takes from common/ only the two sources the demo calls
# (log, options), spdlog and fmt header-only, and Boost.Program_options from its static archive, so
# neither ZeroMQ nor SQLite is linked. Not part of `all`: scripts/images.sh builds it.
#
# Debian's libcpp-httplib-dev ships the split header (declarations only; the code is in a shared
# library, with no static archive). The target therefore needs the upstream single-file httplib.h of
# the same version: scripts/images.sh unpacks it from the Debian source package and passes its folder
# as PIER_HTTPLIB_SINGLE_HEADER_DIR. Without it the target is not defined.
set(PIER_HTTPLIB_SINGLE_HEADER_DIR "" CACHE PATH
    "folder holding cpp-httplib's single-file httplib.h (enables target pier-demo-app-static)")

# A folder that has gone since the last configure (a cleared cache) leaves the target undefined until
# scripts/images.sh passes a fresh one; it does not break the build.
if(PIER_HTTPLIB_SINGLE_HEADER_DIR AND NOT EXISTS ${PIER_HTTPLIB_SINGLE_HEADER_DIR}/httplib.h)
  message(WARNING "PIER_HTTPLIB_SINGLE_HEADER_DIR=${PIER_HTTPLIB_SINGLE_HEADER_DIR} has no httplib.h: "
                  "pier-demo-app-static is not defined (scripts/images.sh sets it again)")
elseif(PIER_HTTPLIB_SINGLE_HEADER_DIR)
  add_executable(pier-demo-app-static EXCLUDE_FROM_ALL
    ${CMAKE_CURRENT_SOURCE_DIR}/main.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/one_write_server.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/tcp_echo.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/cpu_work.cpp
    ${PROJECT_SOURCE_DIR}/common/log.cpp
    ${PROJECT_SOURCE_DIR}/common/options.cpp)
  # The single header comes first so that it shadows the split one in /usr/include.
  target_include_directories(pier-demo-app-static BEFORE PRIVATE ${PIER_HTTPLIB_SINGLE_HEADER_DIR})
  target_include_directories(pier-demo-app-static PRIVATE
    $<TARGET_PROPERTY:pier_common,INTERFACE_INCLUDE_DIRECTORIES>)
  target_compile_definitions(pier-demo-app-static PRIVATE
    SPDLOG_HEADER_ONLY SPDLOG_FMT_EXTERNAL FMT_HEADER_ONLY=1)
  # msgpackc-cxx is header-only (it brings its API-version define); common/options.h reaches it
  # through common/bus.h. ZeroMQ's headers are read too, but nothing of libzmq is called.
  target_link_libraries(pier-demo-app-static PRIVATE msgpackc-cxx boost_program_options Threads::Threads)
  target_link_options(pier-demo-app-static PRIVATE -static)
endif()
