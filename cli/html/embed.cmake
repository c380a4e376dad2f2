# Turns the HTML report's template into a C array (cmake -P, at build
# time), so that the page is kept as a readable file and zmem needs no
# file beside it:  cmake -DIN=report.html -DOUT=html_page.c -P embed.cmake
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "/* Made from cli/html/report.html by cli/html/embed.cmake. */\n"
  "extern const char zmc_html_page[];\n"
  "const char zmc_html_page[] = {${body}0};\n")
