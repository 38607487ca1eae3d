"""Pure-numpy physics functions: particle and jet kinematics (:mod:`~jetscale.physics.kinematics`, the
constituent conventions), phase-space generation (:mod:`~jetscale.physics.rambo`), event observables (:mod:`~jetscale.physics.observables`) and distances between event samples
(:mod:`~jetscale.physics.distances`).  Four-momenta are ``(E, px, py, pz)`` on the last axis, in GeV."""
