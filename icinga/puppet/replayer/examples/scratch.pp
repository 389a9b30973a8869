# Renders everything this module writes under /tmp/replayer-example (no service, no user):
#   puppet apply --modulepath=icinga/puppet icinga/puppet/replayer/examples/scratch.pp
# GOV.UK's setup as in class replayer's documentation, plus the host's Icinga 2 checks.
$root = '/tmp/replayer-example'

class { 'replayer':
  root            => $root,
  input           => '127.0.0.1:7999',
  targets         => ['https://www-origin.staging.example'],
  allow_methods   => ['GET', 'HEAD', 'OPTIONS'],
  disallow_urls   => ['apply-for-a-licence/payment', 'sign-in/callback'],
  set_headers     => ['X-Forwarded-Host:'],
  goreplay_compat => true,
}

class { 'replayer::icinga::objects':
  root => $root,
}

replayer::icinga { 'cache-1.example':
  address       => '192.0.2.10',
  procs_command => 'goreplay',
  sync_downtime => true,
  vars          => { 'replayer_5xx_per_second' => true, 'replayer_5xx_warning' => '0.3', 'replayer_5xx_critical' => '0.9' },
}
