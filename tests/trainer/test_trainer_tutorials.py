"""The deep-learning tutorials' logistic regression (logistic_sgd) and MLP programs, written from
their published structure with `import trainer as theano` and `import trainer.tensor as T`:
shared data sets, a symbolic minibatch index in givens, NLL by p[T.arange(n), y], errors by
T.neq(argmax), L1/L2 terms, the best model pickled and loaded to predict. The one line that
differs from the published code is marked (Theano's dtype is a string, here a numpy dtype)."""

import pickle

import numpy as np

import tessera.trainer.tensor as T
from tessera import trainer as theano
from tessera.trainer import datasets


def shared_dataset(data_xy, borrow=True):
    data_x, data_y = data_xy
    shared_x = theano.shared(np.asarray(data_x, dtype=theano.config.floatX), borrow=borrow)
    shared_y = theano.shared(np.asarray(data_y, dtype=theano.config.floatX), borrow=borrow)
    return shared_x, T.cast(shared_y, "int32")


def load_data():
    x, y = datasets.load_digits(with_labels=True)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return [shared_dataset((x[:1200], y[:1200])), shared_dataset((x[1200:1500], y[1200:1500])),
            shared_dataset((x[1500:], y[1500:]))]


class LogisticRegression:
    def __init__(self, input, n_in, n_out):
        self.W = theano.shared(value=np.zeros((n_in, n_out), dtype=theano.config.floatX), name="W", borrow=True)
        self.b = theano.shared(value=np.zeros((n_out,), dtype=theano.config.floatX), name="b", borrow=True)
        self.p_y_given_x = T.nnet.softmax(T.dot(input, self.W) + self.b)
        self.y_pred = T.argmax(self.p_y_given_x, axis=1)
        self.params = [self.W, self.b]
        self.input = input

    def negative_log_likelihood(self, y):
        return -T.mean(T.log(self.p_y_given_x)[T.arange(T.shape(y)[0]), y])  # Theano: y.shape[0]

    def errors(self, y):
        if y.ndim != self.y_pred.ndim:
            raise TypeError("y should have the same shape as self.y_pred")
        if y.dtype.kind in "iu":  # Theano: y.dtype.startswith('int')
            return T.mean(T.neq(self.y_pred, y))
        raise NotImplementedError()


class HiddenLayer:
    def __init__(self, rng, input, n_in, n_out, activation=T.tanh):
        bound = np.sqrt(6.0 / (n_in + n_out))
        W_values = np.asarray(rng.uniform(low=-bound, high=bound, size=(n_in, n_out)), dtype=theano.config.floatX)
        self.W = theano.shared(value=W_values, name="W", borrow=True)
        self.b = theano.shared(value=np.zeros((n_out,), dtype=theano.config.floatX), name="b", borrow=True)
        lin_output = T.dot(input, self.W) + self.b
        self.output = lin_output if activation is None else activation(lin_output)
        self.params = [self.W, self.b]


class MLP:
    def __init__(self, rng, input, n_in, n_hidden, n_out):
        self.hiddenLayer = HiddenLayer(rng=rng, input=input, n_in=n_in, n_out=n_hidden, activation=T.tanh)
        self.logRegressionLayer = LogisticRegression(input=self.hiddenLayer.output, n_in=n_hidden, n_out=n_out)
        self.L1 = abs(self.hiddenLayer.W).sum() + abs(self.logRegressionLayer.W).sum()
        self.L2_sqr = (self.hiddenLayer.W ** 2).sum() + (self.logRegressionLayer.W ** 2).sum()
        self.negative_log_likelihood = self.logRegressionLayer.negative_log_likelihood
        self.errors = self.logRegressionLayer.errors
        self.params = self.hiddenLayer.params + self.logRegressionLayer.params
        self.input = input


def _train(classifier_factory, learning_rate, n_epochs, batch_size, tmp_path, l1=0.0, l2=0.0):
    (train_set_x, train_set_y), (valid_set_x, valid_set_y), (test_set_x, test_set_y) = load_data()
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size
    n_valid_batches = valid_set_x.get_value(borrow=True).shape[0] // batch_size
    index = T.lscalar()
    x = T.matrix("x")
    y = T.ivector("y")
    classifier = classifier_factory(x)
    cost = classifier.negative_log_likelihood(y)
    if l1 or l2:
        cost = cost + l1 * classifier.L1 + l2 * classifier.L2_sqr
    validate_model = theano.function(
        inputs=[index], outputs=classifier.errors(y),
        givens={x: valid_set_x[index * batch_size:(index + 1) * batch_size],
                y: valid_set_y[index * batch_size:(index + 1) * batch_size]})
    gparams = [T.grad(cost=cost, wrt=param) for param in classifier.params]
    updates = [(param, param - learning_rate * gparam)
               for param, gparam in zip(classifier.params, gparams, strict=True)]
    train_model = theano.function(
        inputs=[index], outputs=cost, updates=updates,
        givens={x: train_set_x[index * batch_size:(index + 1) * batch_size],
                y: train_set_y[index * batch_size:(index + 1) * batch_size]})
    best = np.inf
    path = tmp_path / "best_model.pkl"
    for _epoch in range(n_epochs):
        for minibatch_index in range(n_train_batches):
            assert np.isfinite(train_model(minibatch_index))
        this_validation_loss = np.mean([validate_model(i) for i in range(n_valid_batches)])
        if this_validation_loss < best:
            best = this_validation_loss
            with open(path, "wb") as f:
                pickle.dump(classifier, f)
    with open(path, "rb") as f:
        loaded = pickle.load(f)
    predict_model = theano.function(inputs=[loaded.input], outputs=loaded.y_pred if hasattr(loaded, "y_pred")
                                    else loaded.logRegressionLayer.y_pred)
    predicted = predict_model(test_set_x.get_value())
    labels = test_set_y.eval()
    return best, float(np.mean(predicted == labels))


def test_logistic_sgd(tmp_path):
    best, accuracy = _train(lambda x: LogisticRegression(input=x, n_in=64, n_out=10), 0.13, 40, 50, tmp_path)
    assert best < 0.12 and accuracy >= 0.88, (best, accuracy)


def test_mlp(tmp_path):
    rng = np.random.RandomState(1234)
    best, accuracy = _train(lambda x: MLP(rng=rng, input=x, n_in=64, n_hidden=64, n_out=10), 0.1, 40, 20,
                            tmp_path, l1=0.0, l2=0.0001)
    assert best < 0.1 and accuracy >= 0.9, (best, accuracy)
