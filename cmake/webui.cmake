# The chat page (webui/) is edited as real files and compiled into the library: each file becomes a
# generated C++ source holding its bytes (cmake/embed_file.cmake), rebuilt when the file changes.
function(qiusuo_embed_webui target root)
  set(out ${CMAKE_BINARY_DIR}/generated/webui_index.cpp)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${root}/webui/index.html -DOUT=${out} -DSYMBOL=qiusuo_webui_index
            -P ${root}/cmake/embed_file.cmake
    DEPENDS ${root}/webui/index.html ${root}/cmake/embed_file.cmake
    COMMENT "Embedding webui/index.html")
  target_sources(${target} PRIVATE ${out})
endfunction()
