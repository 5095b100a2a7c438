"""The lowest layer: what an encoder is, below the groups that build encoders and the
architectures that use them.

``contract`` declares the encoder contract (what every caller reads of an encoder and of its
group action) and checks a module against it; ``bounds`` states what an encoder promises;
``modes`` evaluates without touching batch-norm statistics. It imports nothing else of the
package (docs/guides/layers-and-group-contract.md).
"""
