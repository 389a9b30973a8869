# @summary A value written as TOML: a basic string (quotes, backslashes and control
#   characters escaped), a boolean, a number, or an array of them.
#
# @param value What to write.
# @return [String] Its TOML form.
function replayer::toml(Variant[String, Boolean, Integer, Float, Array] $value) >> String {
  $value ? {
    Array   => "[${value.map |$item| { replayer::toml($item) }.join(', ')}]",
    String  => "\"${value.split('').map |$char| {
        case $char {
          '\\':    { '\\\\' }
          '"':     { '\\"' }
          "\n":    { '\\n' }
          "\t":    { '\\t' }
          "\r":    { '\\r' }
          default: { $char }
        }
      }.join}\"",
    default => String($value),
  }
}
