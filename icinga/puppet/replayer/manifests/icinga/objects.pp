# @summary The replayer's Icinga 2 objects every host's checks need, written once on the
#   Icinga 2 server: the three CheckCommands, the service template, the apply rules and the
#   nightly-sync ScheduledDowntime (one file per kind of object, as shipped in icinga/icinga2/).
#
# Declared by `replayer::icinga`; declare it yourself first to change its parameters.
#
# @param conf_dir
#   Directory the files go to, included by icinga2.conf (conf.d is, recursively).
#   In a distributed setup with agents, a global zone's directory
#   (`/etc/icinga2/zones.d/global-templates/replayer`): the agents run the checks
#   (command_endpoint) and need the CheckCommands, which the config sync gives them.
# @param hosts_dir
#   Directory the Host objects of `replayer::icinga` go to; default `<conf_dir>/hosts`. In a
#   distributed setup, the master zone's (`/etc/icinga2/zones.d/master/replayer`): Hosts in
#   a global zone would be synced to, and checked by, every agent.
# @param root
#   A directory every managed path is put under; empty on real hosts (see class replayer).
# @param notify_service
#   A service resource title to reload when the objects change, e.g. 'icinga2'.
class replayer::icinga::objects (
  Pattern[/\A\//] $conf_dir = '/etc/icinga2/conf.d/replayer',
  Optional[Pattern[/\A\//]] $hosts_dir = undef,
  Variant[Enum[''], Pattern[/\A\/.*[^\/]\z/]] $root = '',
  Optional[String[1]] $notify_service = undef,
) {
  $dir = "${root}${conf_dir}"
  $hosts = $hosts_dir ? {
    undef   => "${dir}/hosts",
    default => "${root}${hosts_dir}",
  }
  if $root != '' {
    exec { 'replayer::icinga::objects: scratch root directories':
      command => ['/bin/mkdir', '-p', $dir, $hosts],
      creates => [$dir, $hosts],
      before  => File[$dir, $hosts],
    }
  }
  $notify = $notify_service ? {
    undef   => undef,
    default => Service[$notify_service],
  }

  file { [$dir, $hosts]:
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
