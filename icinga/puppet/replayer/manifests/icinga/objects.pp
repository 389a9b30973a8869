# @summary The replayer's Icinga 2 objects every host's checks need, written once on the
#   Icinga 2 server: the three CheckCommands, the service template, the apply rules and the
#   nightly-sync ScheduledDowntime (one file per kind of object, as shipped in icinga/icinga2/).
#
# Declared by `replayer::icinga`; declare it yourself first to change its parameters.
#
# @param conf_dir
#   Directory the files go to, included by icinga2.conf (conf.d is, recursively).
#   Use a zones.d/<zone> directory in a distributed setup.
# @param root
#   A directory every managed path is put under; empty on real hosts (see class replayer).
# @param notify_service
#   A service resource title to reload when the objects change, e.g. 'icinga2'.
class replayer::icinga::objects (
  Pattern[/\A\//] $conf_dir = '/etc/icinga2/conf.d/replayer',
  Variant[Enum[''], Pattern[/\A\/.*[^\/]\z/]] $root = '',
  Optional[String[1]] $notify_service = undef,
) {
  $dir = "${root}${conf_dir}"
  if $root != '' {
    exec { 'replayer::icinga::objects: scratch root directories':
      command => ['/bin/mkdir', '-p', $dir],
      creates => $dir,
      before  => File[$dir],
    }
  }
  $notify = $notify_service ? {
    undef   => undef,
    default => Service[$notify_service],
  }

  file { [$dir, "${dir}/hosts"]:
    ensure => directory,
  }
  ['constants', 'commands', 'templates', 'services', 'downtimes'].each |$kind| {
    file { "${dir}/${kind}.conf":
      ensure  => file,
      mode    => '0644',
      content => file("replayer/icinga2/${kind}.conf"),
      notify  => $notify,
    }
  }
}
