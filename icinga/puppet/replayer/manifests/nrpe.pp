# @summary The NRPE commands for the replayer's checks (icinga/nrpe/replayer.cfg), for hosts
#   monitored through NRPE rather than an Icinga 2 agent.
#
# The commands use the default socket and GOV.UK's sync flag path; hosts with other paths
# use the Icinga 2 definitions (replayer::icinga), whose values are per host.
#
# @param nrpe_dir
#   NRPE's include directory.
# @param root
#   A directory every managed path is put under; empty on real hosts (see class replayer).
# @param notify_service
#   A service resource title to restart when the file changes, e.g. 'nagios-nrpe-server'.
class replayer::nrpe (
  Pattern[/\A\//] $nrpe_dir = '/etc/nagios/nrpe.d',
  Variant[Enum[''], Pattern[/\A\/.*[^\/]\z/]] $root = '',
  Optional[String[1]] $notify_service = undef,
) {
  $dir = "${root}${nrpe_dir}"
  if $root != '' {
    exec { 'replayer::nrpe: scratch root directories':
      command => ['/bin/mkdir', '-p', $dir],
      creates => $dir,
      before  => File["${dir}/replayer.cfg"],
    }
  }
  file { "${dir}/replayer.cfg":
    ensure  => file,
    mode    => '0644',
    content => file('replayer/nrpe/replayer.cfg'),
    notify  => $notify_service ? {
      undef   => undef,
      default => Service[$notify_service],
    },
  }
}
