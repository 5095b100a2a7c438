"""The lowest layer: what an encoder is, below the groups that own their layers and the
architectures that build from them.

``contract`` declares the encoder contract (what every caller reads of an encoder and of its
group action) and checks a module against it; ``base`` is the shipped encoders' base class
(``LiftedEncoder``, its action a declared member) and ``action`` the default action; ``bounds``
states what an encoder promises; ``modes`` evaluates without touching batch-norm statistics;
``pair_batch`` is what a pair reader returns. The group-free pieces several groups' layers
share: ``plain`` (conv stacks), ``hermite`` (the SESN filter basis), ``escnn_compat`` /
``escnn_init`` (escnn setup), ``warp`` (an image rotation), ``probes`` (the images
equivariance is measured on). It imports nothing else of the package
(docs/guides/layers-and-group-contract.md).
"""
