// SPDX-License-Identifier: Apache-2.0
#include "server/net/poller.hpp"

#include <sys/epoll.h>

#include <array>
#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>

namespace turnpike::server::net {

poller::poller(boost::asio::io_context& io, poll_handler& handler)
    : io_(io), handler_(handler), set_(io) {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) {
    throw boost::system::system_error(errno, boost::system::system_category(), "epoll_create1");
  }
  set_.assign(fd);
}

namespace {

void control(int set, int op, int fd, poll_key key) {
  epoll_event e{};
  e.events = EPOLLIN | EPOLLET;
  e.data.u64 = key.pack();
  if (::epoll_ctl(set, op, fd, &e) != 0) {
    throw boost::system::system_error(errno, boost::system::system_category(), "epoll_ctl");
  }
}

}  // namespace

void poller::watch(int fd, poll_key key) {
  control(set_.native_handle(), EPOLL_CTL_ADD, fd, key);
}

void poller::rekey(int fd, poll_key key) {
  control(set_.native_handle(), EPOLL_CTL_MOD, fd, key);
}

void poller::start() {
  arm();
}

void poller::close() noexcept {
  boost::system::error_code ignored;
  set_.close(ignored);
}

void poller::arm() {
  set_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                  [this](const boost::system::error_code& ec) {
                    if (ec || !set_.is_open()) return;  // stopping
                    on_wake();
                    arm();
                  });
}

void poller::on_wake() {
  int n = round();
  // Bounded, so timers, streams and posted work still get their turn; stopped when a socket
  // is left for read_again.
  for (unsigned r = 1; n > 0 && r < max_poll_rounds && again_.empty(); ++r) {
    if (!repoll_hits_ && (++repoll_probe_ % repoll_probe_every) != 0) break;
    n = round();
    repoll_hits_ = n > 0;
  }
  schedule_again();
}

int poller::round() {
  handler_.round_started();
  // Filled by epoll_wait, read only up to what it returned: no memset per round.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
  std::array<epoll_event, 64> ready;
  // Events beyond the 64 stay in the set's ready list; the next round or the re-arm finds them.
  const int n = ::epoll_wait(set_.native_handle(), ready.data(), ready.size(), 0);
  for (int i = 0; i < n; ++i) {
    const poll_key key = poll_key::unpack(ready[i].data.u64);  // a copy: epoll_event is packed
    if (handler_.read_ready(key)) again_.push_back(key);
  }
  handler_.round_ended(n);
  return n;
}

void poller::schedule_again() {
  if (again_.empty() || again_posted_) return;
  again_posted_ = true;
  boost::asio::post(io_, [this] { read_again(); });
}

void poller::read_again() {
  again_posted_ = false;
  if (!set_.is_open()) return;
  handler_.round_started();
  // Swapped, not moved: both vectors keep their capacity, so no round allocates.
  reading_.swap(again_);
  for (const poll_key key : reading_) {
    if (handler_.read_ready(key)) again_.push_back(key);
  }
  reading_.clear();
  handler_.round_ended(0);
  schedule_again();
}

}  // namespace turnpike::server::net
