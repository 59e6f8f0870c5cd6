# Differential oracles (included by tests/CMakeLists.txt, in its scope).
#
# ctest fixtures that write reference data into ${PROJECT_BINARY_DIR}/oracle:
#   oracle_tokenizer_data   node tokenizer_oracle.mjs: @huggingface/tokenizers on
#                           10,000 seeded random strings per tokenizer
#   oracle_template_py      python3 template_oracle.py: Jinja2 as transformers sets it up
#   oracle_template_js      node template_oracle.mjs: @huggingface/jinja, same cases
# and the C tests that read it (test_tokenizer_oracle, test_template_oracle and their
# _asan variants) require them. Without the tokenizer assets or node, nothing is
# written and those tests skip. docs/reference-data.md describes the data.

set(INGOT_ORACLE_OUT ${PROJECT_BINARY_DIR}/oracle)
set(INGOT_ORACLE_ASSETS ${PROJECT_SOURCE_DIR}/.cache/assets)
set(INGOT_ORACLE_SRC ${CMAKE_CURRENT_LIST_DIR})

# The C tests a fixture feeds, with their sanitizer variants where built.
function(ingot_oracle_require fixtures)
  foreach(name ${ARGN})
    foreach(variant ${name} ${name}_asan)
      if(TEST ${variant})
        set_property(TEST ${variant} APPEND PROPERTY FIXTURES_REQUIRED ${fixtures})
      endif()
    endforeach()
  endforeach()
endfunction()

find_program(INGOT_NODE NAMES node nodejs)
# Debian's python3 with python3-jinja2 first (the oracle the issue names)
find_program(INGOT_ORACLE_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(INGOT_ORACLE_PYTHON NAMES python3)

add_test(NAME oracle_mkdir COMMAND ${CMAKE_COMMAND} -E make_directory ${INGOT_ORACLE_OUT})
set_tests_properties(oracle_mkdir PROPERTIES FIXTURES_SETUP oracle_dir)

if(INGOT_NODE)
  add_test(NAME oracle_tokenizer_data
           COMMAND ${INGOT_NODE} ${INGOT_ORACLE_SRC}/tokenizer_oracle.mjs ${INGOT_ORACLE_ASSETS}
                   ${INGOT_ORACLE_OUT} 10000)
  set_tests_properties(oracle_tokenizer_data PROPERTIES FIXTURES_SETUP oracle_tokenizer
                       FIXTURES_REQUIRED oracle_dir TIMEOUT 300)
  ingot_oracle_require(oracle_tokenizer test_tokenizer_oracle)
else()
  message(STATUS "oracle: node not found; test_tokenizer_oracle and test_template_oracle skip")
endif()

if(INGOT_ORACLE_PYTHON AND INGOT_NODE)
  add_test(NAME oracle_template_py
           COMMAND ${INGOT_ORACLE_PYTHON} ${INGOT_ORACLE_SRC}/template_oracle.py
                   ${INGOT_ORACLE_ASSETS} ${INGOT_ORACLE_OUT}/template_py.jsonl)
  set_tests_properties(oracle_template_py PROPERTIES FIXTURES_SETUP oracle_template_py
                       FIXTURES_REQUIRED oracle_dir TIMEOUT 300)
  add_test(NAME oracle_template_js
           COMMAND ${INGOT_NODE} ${INGOT_ORACLE_SRC}/template_oracle.mjs ${INGOT_ORACLE_ASSETS}
                   ${INGOT_ORACLE_OUT}/template_py.jsonl ${INGOT_ORACLE_OUT}/template_js.jsonl)
  set_tests_properties(oracle_template_js PROPERTIES FIXTURES_SETUP oracle_template_js
                       FIXTURES_REQUIRED "oracle_dir;oracle_template_py" TIMEOUT 300)
  ingot_oracle_require("oracle_template_py;oracle_template_js" test_template_oracle)
endif()
