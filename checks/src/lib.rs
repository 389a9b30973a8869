//! Nagios/Icinga plugins for the replayer (work in progress).
