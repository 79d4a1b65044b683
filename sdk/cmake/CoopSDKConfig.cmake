# CMake package for building coopd plugins out of tree:
#   find_package(CoopSDK 1 REQUIRED)
#   coop_add_plugin(myplugin SOURCES myplugin.c MIGRATIONS sql/001_init.sql)
include(CMakeFindDependencyMacro)
find_dependency(PkgConfig)
pkg_check_modules(COOP_SDK_JANSSON REQUIRED IMPORTED_TARGET jansson)

get_filename_component(_coop_sdk_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET CoopSDK::sdk)
    add_library(CoopSDK::sdk INTERFACE IMPORTED)
    set_target_properties(CoopSDK::sdk PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${_coop_sdk_prefix}/include"
        INTERFACE_LINK_LIBRARIES PkgConfig::COOP_SDK_JANSSON)
endif()
set(COOP_SDK_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/CoopEmbedSql.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/CoopPlugin.cmake)
unset(_coop_sdk_prefix)
