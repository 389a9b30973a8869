# @summary A string written as an Icinga 2 string literal: the escapes of a TOML basic
#   string (the same as Icinga's) plus `$$` for a literal `$`, which would start a macro.
#
# @param value The string.
# @return [String] The quoted literal.
function replayer::icinga_string(String $value) >> String {
  replayer::toml($value).regsubst(/\$/, '$$', 'G')
}
