"""The reference service's domain: its entities, services and typed unit-of-work port.

Pure Python (attrs and the layer's pure parts: ports, specs, errors, ids); it loads
neither MongoEngine nor PyMongo.  A service of your own keeps a package like this one
beside the installed layer (see docs/architecture.md).
"""
