# Source checks run as tests (included by tests/CMakeLists.txt):
#   lint_eval_order_selftest  the checker flags and accepts its known cases
#   lint_eval_order           no expression in the tree depends on C's
#                             unspecified evaluation order (eval_order.py)
#   lint_one_line_messages    every ingot__error format is one literal on one
#                             line, so a message can be found with grep
#                             (one_line_messages.py)
#   lint_floors               no file of src/ or tools/ includes a header of a
#                             floor above its own (floors.py); each check has
#                             a _selftest
find_program(INGOT_LINT_PYTHON NAMES python3 REQUIRED)
set(INGOT_EVAL_ORDER ${CMAKE_CURRENT_LIST_DIR}/eval_order.py)
add_test(NAME lint_eval_order_selftest COMMAND ${INGOT_LINT_PYTHON} ${INGOT_EVAL_ORDER} --self-test)
add_test(NAME lint_eval_order
         COMMAND ${INGOT_LINT_PYTHON} ${INGOT_EVAL_ORDER} src tools tests bench examples
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
add_test(NAME lint_one_line_messages_selftest
         COMMAND ${INGOT_LINT_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/one_line_messages.py --self-test)
add_test(NAME lint_one_line_messages
         COMMAND ${INGOT_LINT_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/one_line_messages.py src tools
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
add_test(NAME lint_floors_selftest
         COMMAND ${INGOT_LINT_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/floors.py --self-test)
add_test(NAME lint_floors COMMAND ${INGOT_LINT_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/floors.py .
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
